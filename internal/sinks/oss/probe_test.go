package oss

import "testing"

// What the server does not say is left out, never shown as an empty label
// ("storage " with nothing after it).
func TestBucketDetail(t *testing.T) {
	for _, tc := range []struct{ region, storage, want string }{
		{"cn-hangzhou", "Standard", "b in cn-hangzhou, storage Standard"},
		{"cn-hangzhou", "", "b in cn-hangzhou"},
		{"", "IA", "b, storage IA"},
		{"", "", "b"},
	} {
		if got := bucketDetail("b", tc.region, tc.storage); got != tc.want {
			t.Errorf("bucketDetail(%q, %q) = %q, want %q", tc.region, tc.storage, got, tc.want)
		}
	}
}
