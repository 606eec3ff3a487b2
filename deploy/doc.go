// Package deploy holds no code: only the example container image
// (Dockerfile) and the tests of the release build (the Makefile at the
// repository root) and of that image's paths.
package deploy
