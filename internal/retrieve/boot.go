package retrieve

import "sync"

// Pull does not fsync the files it writes (an fsync of each costs more
// disk time than the whole download): a killed pull loses nothing, since
// the page cache outlives the process, but a power loss or a crash of the
// kernel may. So the state records, for each file written without fsync,
// the boot it was written in (the kernel's boot ID). A re-run in the same
// boot trusts the file as the state describes it; a re-run after a reboot
// first checks every segment of it against its CRC-32C and fetches again
// what does not match.

// currentBoot is the ID of the running boot, or "" when the system does
// not tell (pull then fsyncs every file, as --fsync does). A variable so
// that tests can simulate a reboot.
var currentBoot = sync.OnceValue(bootID)
