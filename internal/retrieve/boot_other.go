//go:build !darwin

package retrieve

import (
	"os"
	"strings"
)

// bootID is Linux's random boot ID, new at each boot ("" elsewhere).
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
