package snapshot

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// tcpStates are the kernel's TCP states (include/net/tcp_states.h), named
// as ss names them.
var tcpStates = map[string]string{
	"01": "ESTAB", "02": "SYN-SENT", "03": "SYN-RECV", "04": "FIN-WAIT-1", "05": "FIN-WAIT-2",
	"06": "TIME-WAIT", "07": "UNCONN", "08": "CLOSE-WAIT", "09": "LAST-ACK", "0A": "LISTEN", "0B": "CLOSING",
}

// sockOwner is one descriptor holding a socket.
type sockOwner struct {
	pid, fd int
	comm    string
}

// socketOwners maps socket inodes to the descriptors that hold them.
func socketOwners(ctx context.Context, procRoot string) map[string][]sockOwner {
	m := map[string][]sockOwner{}
	for _, pid := range pids(procRoot) {
		if ctx.Err() != nil {
			break
		}
		dir := fmt.Sprintf("%s/%d/fd", procRoot, pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("%s/%d/comm", procRoot, pid))
		for _, e := range ents {
			t, err := os.Readlink(dir + "/" + e.Name())
			if err != nil || !strings.HasPrefix(t, "socket:[") {
				continue
			}
			fd, _ := strconv.Atoi(e.Name())
			ino := strings.TrimSuffix(strings.TrimPrefix(t, "socket:["), "]")
			m[ino] = append(m[ino], sockOwner{pid: pid, fd: fd, comm: strings.TrimSpace(string(comm))})
		}
	}
	return m
}

// collectSockets writes sockets.txt: TCP sockets as `ss -tanp` shows them.
func collectSockets(ctx context.Context, s *Session, out *Out) error {
	owners := socketOwners(ctx, s.o.Proc)
	w := out.Create("sockets.txt")
	fmt.Fprintf(w, "%-11s %8s %8s %-45s %-45s %s\n", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Process")
	var errs []string
	read := 0
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(s.o.Proc + "/net/" + name)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		err = writeTCP(ctx, w, f, owners)
		f.Close()
		if err != nil {
			return err
		}
		read++
	}
	if read == 0 {
		return fmt.Errorf("no TCP table: %s", strings.Join(errs, "; "))
	}
	return nil
}

func writeTCP(ctx context.Context, w io.Writer, r io.Reader, owners map[string][]sockOwner) error {
	sc := bufio.NewScanner(r)
	sc.Scan() // the column names
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		// sl local_address rem_address st tx_queue:rx_queue tr:when retrnsmt uid timeout inode ...
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		state := tcpStates[f[3]]
		if state == "" {
			state = f[3]
		}
		tx, rx, _ := strings.Cut(f[4], ":")
		txq, _ := strconv.ParseInt(tx, 16, 64)
		rxq, _ := strconv.ParseInt(rx, 16, 64)
		var procs []string
		for _, o := range owners[f[9]] {
			procs = append(procs, fmt.Sprintf("((%q,pid=%d,fd=%d))", o.comm, o.pid, o.fd))
		}
		users := ""
		if len(procs) > 0 {
			users = "users:" + strings.Join(procs, ",")
		}
		fmt.Fprintf(w, "%-11s %8d %8d %-45s %-45s %s\n", state, rxq, txq, hexAddr(f[1]), hexAddr(f[2]), users)
	}
	return sc.Err()
}

// hexAddr turns /proc/net/tcp's "0100007F:1F90" (an address in host byte
// order, 32-bit words) into 127.0.0.1:8080.
func hexAddr(s string) string {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return s
	}
	port, _ := strconv.ParseUint(p, 16, 16)
	b, err := hex.DecodeString(a)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return s
	}
	// Each 32-bit word is little endian.
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	ip := net.IP(b)
	if v4 := ip.To4(); v4 != nil && len(b) == 16 {
		ip = v4
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10))
}
