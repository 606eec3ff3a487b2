package oss

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/logship/logship/internal/schema"
)

// The credentials chain: the first source that works is used for the life
// of the sink, and logged by name (never the secret):
//
//  1. env: OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET (and
//     OSS_SESSION_TOKEN for STS);
//  2. config: sink.access_key_id and sink.access_key_secret, with a warning
//     when the file is readable by group or others;
//  3. ecs-ram-role: the RAM role of the ECS instance, from the metadata
//     service in hardened mode (a session token first), refreshed before
//     the credentials expire;
//  4. ossutilconfig: ~/.ossutilconfig as `ossutil config` writes it
//     ([Credentials] accessKeyID, accessKeySecret, stsToken; ossutil 2's
//     [default] section is read too).
//
// A reader on a laptop (WithLocalCredentialsFirst) tries 4 before 3, so
// that the metadata service, which is not there, is asked only when
// nothing else has keys, and for a shorter time.

var osGetenv = os.Getenv

const defaultMetadataURL = "http://100.100.100.200"

// errNoCredentials is returned when no source of the chain has credentials.
var errNoCredentials = errors.New("no OSS credentials: set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET (and OSS_SESSION_TOKEN for STS) in the environment, run on an ECS instance with a RAM role, or run `ossutil config`")

// chosenCreds is the credentials source in use.
type chosenCreds struct {
	name     string // env, config, ecs-ram-role, ossutilconfig
	detail   string // where exactly: a file, a role
	maskedID string
	provider credentials.CredentialsProvider
}

func (c *chosenCreds) fixHint() string {
	switch c.name {
	case "env":
		return "OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET"
	case "config":
		return "sink.access_key_id and sink.access_key_secret" + inFile(c.detail)
	case "ecs-ram-role":
		return "the RAM role " + c.detail + " of this instance"
	case "ossutilconfig":
		return c.detail + " (run `ossutil config`)"
	}
	return "the credentials"
}

func (c *chosenCreds) tokenHint() string {
	switch c.name {
	case "env":
		return "renew OSS_SESSION_TOKEN together with its key pair and restart"
	case "ecs-ram-role":
		return "the instance metadata service renews it; it is fetched again before each retry"
	case "ossutilconfig":
		return "renew stsToken in " + c.detail
	}
	return "renew it"
}

func inFile(f string) string {
	if f == "" {
		return ""
	}
	return " in " + f
}

// maskID shows enough of an access key id to recognise it: LTAI****wxyz.
func maskID(id string) string { return schema.MaskID(id) }

func chooseCredentials(ctx context.Context, c Config, o *options, log *slog.Logger) (*chosenCreds, error) {
	if o.creds != nil {
		ch := &chosenCreds{name: o.credsName, provider: o.creds}
		if ch.name == "" {
			ch.name = "custom"
		}
		if cr, err := o.creds.GetCredentials(ctx); err == nil {
			ch.maskedID = maskID(cr.AccessKeyID)
		}
		return ch, nil
	}
	var tried []string

	id, secret, token := o.getenv("OSS_ACCESS_KEY_ID"), o.getenv("OSS_ACCESS_KEY_SECRET"), o.getenv("OSS_SESSION_TOKEN")
	switch {
	case id != "" && secret != "":
		return static("env", "", id, secret, token), nil
	case id != "" || secret != "":
		log.Warn("only one of OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET is set: ignoring the environment")
		tried = append(tried, "env (incomplete)")
	default:
		tried = append(tried, "env")
	}

	if c.AccessKeyID != "" && c.AccessKeySecret != "" {
		warnReadable(log, o.configFile, "the config file holds the access key secret and others can read it: chmod 600 it, or move the key to OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET")
		return static("config", o.configFile, c.AccessKeyID.Reveal(), c.AccessKeySecret.Reveal(), ""), nil
	}
	tried = append(tried, "config")

	steps := []func() (*chosenCreds, string){
		func() (*chosenCreds, string) { return fromECS(ctx, o, log) },
		func() (*chosenCreds, string) { return fromOssutil(o, log) },
	}
	if o.localFirst {
		steps[0], steps[1] = steps[1], steps[0]
	}
	for _, step := range steps {
		ch, why := step()
		if ch != nil {
			return ch, nil
		}
		if why != "" {
			tried = append(tried, why)
		}
	}
	return nil, fmt.Errorf("oss: %w; tried %s", errNoCredentials, strings.Join(tried, ", "))
}

// fromECS asks the metadata service for the RAM role's credentials, for
// at most o.ecsWait; it returns nil and what was tried when there are none.
func fromECS(ctx context.Context, o *options, log *slog.Logger) (*chosenCreds, string) {
	ecs := newECSProvider(o.metadataURL, o.now, log)
	pctx, cancel := context.WithTimeout(ctx, o.ecsWait)
	cr, err := ecs.GetCredentials(pctx)
	cancel()
	if err == nil {
		return &chosenCreds{name: "ecs-ram-role", detail: ecs.roleName(), maskedID: maskID(cr.AccessKeyID), provider: ecs}, ""
	}
	log.Debug("no ECS RAM role credentials", "err", err)
	return nil, "ecs-ram-role (" + err.Error() + ")"
}

// fromOssutil reads ~/.ossutilconfig (or o.ossutilPath).
func fromOssutil(o *options, log *slog.Logger) (*chosenCreds, string) {
	p := o.ossutilPath
	if p == "" {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, ".ossutilconfig")
		}
	}
	if p == "" {
		return nil, ""
	}
	oc, err := readOssutilConfig(p)
	switch {
	case err == nil && oc.id != "" && oc.secret != "":
		warnReadable(log, p, "the ossutil config file holds the access key secret and others can read it: chmod 600 it")
		return static("ossutilconfig", p, oc.id, oc.secret, oc.token), ""
	case err == nil:
		return nil, p + " (no accessKeyID and accessKeySecret)"
	case errors.Is(err, os.ErrNotExist):
		return nil, p + " (none)"
	}
	return nil, p + " (" + err.Error() + ")"
}

func static(name, detail, id, secret, token string) *chosenCreds {
	return &chosenCreds{name: name, detail: detail, maskedID: maskID(id),
		provider: credentials.NewStaticCredentialsProvider(id, secret, token)}
}

// warnReadable warns when file can be read by group or others.
func warnReadable(log *slog.Logger, file, msg string) {
	if file == "" {
		return
	}
	fi, err := os.Stat(file)
	if err != nil {
		return
	}
	if fi.Mode().Perm()&0o044 != 0 {
		log.Warn(msg, "file", file, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
}

// ---- ECS RAM role ----

// ecsProvider gets the credentials of the instance's RAM role from the
// metadata service, in hardened mode: a session token from PUT
// /latest/api/token, sent with every read (falling back to plain reads
// only when the service answers the token request with an HTTP error, as
// old instances do). Credentials are cached and refreshed before they
// expire; if a refresh fails while the current ones are still valid, they
// are used and the refresh is tried again later.
type ecsProvider struct {
	base   string
	client *http.Client
	now    func() time.Time
	log    *slog.Logger

	mu        sync.Mutex
	role      string
	cur       credentials.Credentials
	fetched   time.Time
	expires   time.Time
	nextTry   time.Time // after a failed refresh
	hardened  bool
	triedHard bool
}

func newECSProvider(base string, now func() time.Time, log *slog.Logger) *ecsProvider {
	tr := &http.Transport{
		Proxy:       nil, // the metadata service is link-local: never through a proxy
		DialContext: (&net.Dialer{Timeout: time.Second}).DialContext,
	}
	return &ecsProvider{base: strings.TrimSuffix(base, "/"), client: &http.Client{Transport: tr, Timeout: 5 * time.Second}, now: now, log: log}
}

func (p *ecsProvider) roleName() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.role
}

// refreshAt is when the cached credentials are renewed: 15 minutes before
// they expire, or at half their life if that is shorter.
func (p *ecsProvider) refreshAt() time.Time {
	margin := min(15*time.Minute, p.expires.Sub(p.fetched)/2)
	return p.expires.Add(-margin)
}

// GetCredentials implements credentials.CredentialsProvider.
func (p *ecsProvider) GetCredentials(ctx context.Context) (credentials.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	valid := p.cur.HasKeys() && now.Before(p.expires)
	if valid && (now.Before(p.refreshAt()) || now.Before(p.nextTry)) {
		return p.cur, nil
	}
	cr, exp, err := p.fetch(ctx)
	if err != nil {
		if valid {
			p.nextTry = now.Add(30 * time.Second)
			p.log.Warn("refreshing the ECS RAM role credentials failed; the current ones stay in use until they expire",
				"expires", p.expires.UTC().Format(time.RFC3339), "err", err)
			return p.cur, nil
		}
		return credentials.Credentials{}, err
	}
	p.cur, p.fetched, p.expires = cr, now, exp
	p.cur.Expires = &exp
	p.log.Debug("ECS RAM role credentials fetched", "role", p.role, "access_key_id", maskID(cr.AccessKeyID), "expires", exp.UTC().Format(time.RFC3339))
	return p.cur, nil
}

type ecsCredentials struct {
	Code            string `json:"Code"`
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	SecurityToken   string `json:"SecurityToken"`
	Expiration      string `json:"Expiration"`
}

func (p *ecsProvider) fetch(ctx context.Context) (credentials.Credentials, time.Time, error) {
	var none credentials.Credentials
	token, err := p.token(ctx)
	if err != nil {
		return none, time.Time{}, err
	}
	if p.role == "" {
		b, err := p.get(ctx, "/latest/meta-data/ram/security-credentials/", token)
		if err != nil {
			return none, time.Time{}, err
		}
		role, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		if role = strings.TrimSpace(role); role == "" {
			return none, time.Time{}, errors.New("ecs metadata: no RAM role is attached to this instance")
		}
		p.role = role
	}
	b, err := p.get(ctx, "/latest/meta-data/ram/security-credentials/"+p.role, token)
	if err != nil {
		return none, time.Time{}, err
	}
	var ec ecsCredentials
	if err := json.Unmarshal(b, &ec); err != nil {
		return none, time.Time{}, errors.New("ecs metadata: the credentials of role " + p.role + " are not JSON") // the body holds secrets: not quoted
	}
	if ec.Code != "" && !strings.EqualFold(ec.Code, "Success") {
		return none, time.Time{}, fmt.Errorf("ecs metadata: role %s: code %q", p.role, ec.Code)
	}
	if ec.AccessKeyID == "" || ec.AccessKeySecret == "" {
		return none, time.Time{}, fmt.Errorf("ecs metadata: role %s: no access key in the answer", p.role)
	}
	exp, err := time.Parse(time.RFC3339, ec.Expiration)
	if err != nil {
		return none, time.Time{}, fmt.Errorf("ecs metadata: role %s: bad expiration %q", p.role, ec.Expiration)
	}
	return credentials.Credentials{AccessKeyID: ec.AccessKeyID, AccessKeySecret: ec.AccessKeySecret, SecurityToken: ec.SecurityToken}, exp, nil
}

// token gets a metadata session token (hardened mode). An HTTP error
// answer means the service predates hardened mode: plain reads follow.
func (p *ecsProvider) token(ctx context.Context) (string, error) {
	if p.triedHard && !p.hardened {
		return "", nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.base+"/latest/api/token", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")
	res, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("ecs metadata: %w", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	switch {
	case res.StatusCode == http.StatusOK:
		p.triedHard, p.hardened = true, true
		return strings.TrimSpace(string(b)), nil
	case res.StatusCode >= 500:
		return "", fmt.Errorf("ecs metadata: token: HTTP %d", res.StatusCode)
	}
	p.triedHard, p.hardened = true, false
	p.log.Debug("ECS metadata service without hardened mode; using plain reads", "status", res.StatusCode)
	return "", nil
}

func (p *ecsProvider) get(ctx context.Context, path, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("X-aliyun-ecs-metadata-token", token)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ecs metadata: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("ecs metadata: %w", err)
	}
	switch res.StatusCode {
	case http.StatusOK:
		return b, nil
	case http.StatusNotFound:
		return nil, fmt.Errorf("ecs metadata: %s: not found (no RAM role attached?)", path)
	}
	return nil, fmt.Errorf("ecs metadata: %s: HTTP %d", path, res.StatusCode)
}

// ---- ~/.ossutilconfig ----

type ossutilConfig struct {
	id, secret, token, endpoint, region string
}

// readOssutilConfig reads the INI file ossutil writes. Keys are matched
// without regard to case; [Credentials] (ossutil 1) wins over [default]
// (ossutil 2).
func readOssutilConfig(path string) (ossutilConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return ossutilConfig{}, err
	}
	defer f.Close()
	sections := map[string]map[string]string{}
	cur := ""
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			cur = strings.ToLower(strings.TrimSpace(line[1 : len(line)-1]))
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if sections[cur] == nil {
			sections[cur] = map[string]string{}
		}
		sections[cur][strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return ossutilConfig{}, err
	}
	for _, name := range []string{"credentials", "default"} {
		s := sections[name]
		if s["accesskeyid"] == "" {
			continue
		}
		oc := ossutilConfig{id: s["accesskeyid"], secret: s["accesskeysecret"], endpoint: s["endpoint"], region: s["region"]}
		for _, k := range []string{"ststoken", "securitytoken", "sts_token"} {
			if s[k] != "" {
				oc.token = s[k]
			}
		}
		return oc, nil
	}
	return ossutilConfig{}, nil
}
