# Release build: static, reproducible logship binaries for container images.
#
#   make release            dist/logship-linux-amd64, dist/logship-linux-arm64, dist/SHA256SUMS
#   make release VERSION=v1.2.0 PLATFORMS=linux/amd64 DIST=/tmp/out
#
# Reproducible: the same commit gives the same bytes, wherever and whenever
# it is built (the release test builds twice and compares): -trimpath (no
# build folder in the binary), -buildid= (no per-build id), no VCS stamp
# read at build time (-buildvcs=false: version, commit and date are passed
# with -X, so a worktree, a tarball or a CI checkout give the same result),
# and the date is the commit's time, or SOURCE_DATE_EPOCH when set, never
# the clock. Static: CGO_ENABLED=0, so the binary runs in any image, with
# or without a libc. Needs only go, git, make and sha256sum.

GO        ?= go
DIST      ?= dist
PLATFORMS ?= linux/amd64 linux/arm64
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
DATE      ?= $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r $(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
VERSION   ?= $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || echo v0.0.0-$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown))
LDFLAGS   := -s -w -buildid= -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.PHONY: release clean

release:
	rm -rf $(DIST)
	mkdir -p $(DIST)
	set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		echo "building $(DIST)/logship-$$os-$$arch ($(VERSION))"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOFLAGS= $(GO) build -trimpath -buildvcs=false \
			-ldflags '$(LDFLAGS)' -o $(DIST)/logship-$$os-$$arch ./cmd/logship; \
	done
	cd $(DIST) && sha256sum logship-* > SHA256SUMS
	cat $(DIST)/SHA256SUMS

clean:
	rm -rf $(DIST)
