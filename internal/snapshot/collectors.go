package snapshot

// Standard returns the collectors of every bundle, in bundle order.
func Standard() []Collector {
	return []Collector{
		{Name: "ps", Run: collectPS},
		{Name: "kmsg", Run: collectKmsg},
		{Name: "cgroup", Run: collectCgroup},
		{Name: "fds", Run: collectFDs},
		{Name: "sockets", Run: collectSockets},
		{Name: "mounts", Run: collectMounts},
		{Name: "env", Run: collectEnv},
		{Name: "jvm", Run: collectJVM},
		{Name: "probes", Run: collectProbes},
		{Name: "logs", Run: collectLogs},
		{Name: "crash", Run: collectCrash},
	}
}
