package retrieve

import "golang.org/x/sys/unix"

// bootID is macOS's boot session UUID, new at each boot.
func bootID() string {
	id, err := unix.Sysctl("kern.bootsessionuuid")
	if err != nil {
		return ""
	}
	return id
}
