package snapshot

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// collectProbes writes probes.txt: for each configured target, DNS, TCP
// connect, TLS handshake and HTTP status with their timings, what
// `curl -v` would tell.
func collectProbes(ctx context.Context, s *Session, out *Out) error {
	if len(s.o.Config.Probes) == 0 {
		return skipped("no probe configured")
	}
	w := out.Create("probes.txt")
	failed := 0
	for _, p := range s.o.Config.Probes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := runProbe(ctx, w, p, s.o.RootCAs); err != nil {
			fmt.Fprintf(w, "* FAILED: %v\n", err)
			failed++
		}
		fmt.Fprintln(w)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d probes failed (see probes.txt)", failed, len(s.o.Config.Probes))
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// runProbe checks one target step by step, writing each step as it ends.
func runProbe(ctx context.Context, w io.Writer, p Probe, roots *x509.CertPool) error {
	began := time.Now()
	target := p.Addr
	var u *url.URL
	if p.URL != "" {
		var err error
		if u, err = url.Parse(p.URL); err != nil {
			return err
		}
		target = u.Host
		if u.Port() == "" {
			port := "80"
			if u.Scheme == "https" {
				port = "443"
			}
			target = net.JoinHostPort(u.Hostname(), port)
		}
		fmt.Fprintf(w, "== probe %s: %s\n", p.Name, p.URL)
	} else {
		fmt.Fprintf(w, "== probe %s: tcp %s\n", p.Name, p.Addr)
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return err
	}

	t := time.Now()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return fmt.Errorf("DNS %s: %w (%s)", host, err, ms(time.Since(t)))
	}
	sort.Strings(addrs)
	fmt.Fprintf(w, "* DNS %s: %s (%s)\n", host, strings.Join(addrs, ", "), ms(time.Since(t)))

	var conn net.Conn
	var d net.Dialer
	for _, a := range addrs {
		t = time.Now()
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(a, port))
		if err != nil {
			fmt.Fprintf(w, "* TCP connect %s: %v (%s)\n", net.JoinHostPort(a, port), err, ms(time.Since(t)))
			continue
		}
		fmt.Fprintf(w, "* TCP connect %s: connected from %s (%s)\n", c.RemoteAddr(), c.LocalAddr(), ms(time.Since(t)))
		conn = c
		break
	}
	if conn == nil {
		return fmt.Errorf("no address of %s accepts a TCP connection on port %s", host, port)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if u == nil {
		fmt.Fprintf(w, "* total %s\n", ms(time.Since(began)))
		return nil
	}
	if u.Scheme == "https" {
		cfg := &tls.Config{ServerName: u.Hostname(), RootCAs: roots}
		tc := tls.Client(conn, cfg)
		t = time.Now()
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake with %s: %w (%s)", u.Hostname(), err, ms(time.Since(t)))
		}
		st := tc.ConnectionState()
		fmt.Fprintf(w, "* TLS handshake: %s, %s, ALPN %q (%s)\n", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.NegotiatedProtocol, ms(time.Since(t)))
		if len(st.PeerCertificates) > 0 {
			c := st.PeerCertificates[0]
			fmt.Fprintf(w, "*   certificate: subject %q, issuer %q, valid %s to %s, names %s\n", c.Subject.String(), c.Issuer.String(),
				c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), strings.Join(c.DNSNames, ","))
		}
		conn = tc
	}
	path := u.RequestURI()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "logship-snapshot-probe")
	req.Close = true
	fmt.Fprintf(w, "> GET %s HTTP/1.1\n> Host: %s\n", path, u.Host)
	t = time.Now()
	if err := req.Write(conn); err != nil {
		return fmt.Errorf("sending the request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return fmt.Errorf("reading the response: %w (%s)", err, ms(time.Since(t)))
	}
	defer resp.Body.Close()
	fmt.Fprintf(w, "< %s %s (first byte after %s)\n", resp.Proto, resp.Status, ms(time.Since(t)))
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "< %s: %s\n", k, strings.Join(resp.Header[k], ", "))
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	fmt.Fprintf(w, "* body %d bytes; total %s\n", n, ms(time.Since(began)))
	return nil
}
