package config

import (
	"fmt"
	"strings"
	"testing"
)

const secret = "s3cr3t-DO-NOT-PRINT"

// TestSecretNeverPrinted follows a secret through every way a config is
// shown: problems from the file, the environment and flags, YAML(), and fmt.
func TestSecretNeverPrinted(t *testing.T) {
	doc := "app: shop\nsources: [{type: file, paths: [a]}]\nsink:\n  type: oss\n  bucket: my-logs\n  region: cn-hangzhou\n" +
		"  access_key_id: id\n  access_key_secret: " + secret + "\n"
	c, err := Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Sink.OSS.AccessKeySecret.Reveal() != secret {
		t.Fatal("secret not read")
	}
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(y), "access_key_secret: '[redacted]'") {
		t.Errorf("YAML() does not show the secret as redacted:\n%s", y)
	}

	shown := map[string]string{
		"YAML":    string(y),
		"%v":      fmt.Sprintf("%v", c),
		"%+v":     fmt.Sprintf("%+v", c),
		"%#v":     fmt.Sprintf("%#v", c),
		"%v sink": fmt.Sprintf("%v", c.Sink),
		"%v *":    fmt.Sprintf("%v", *c),
		"%+v *":   fmt.Sprintf("%+v", *c),
		"%#v *":   fmt.Sprintf("%#v", *c),
		"%q":      fmt.Sprintf("%q", c.Sink.OSS.AccessKeySecret),
	}
	// Problems around the secret: wrong type, misspelt key, unknown
	// variable, bad flag, and validation of a half-set credential.
	for name, d := range map[string]string{
		"list secret":  "sink:\n  access_key_secret: [" + secret + "]\n",
		"misspelt key": "sink:\n  access_key_secert: " + secret + "\n",
		"bad yaml":     "sink:\n  access_key_secret: " + secret + "\n  - x\n",
		"half set":     "app: a\nsources: [{type: kmsg}]\nsink: {type: oss, bucket: my-logs, region: r, access_key_secret: " + secret + "}\n",
	} {
		c, ps := parse([]byte(d), "t.yaml")
		c.SetDefaults()
		shown["problem: "+name] = ps.Error() + fmt.Sprint(c.Validate())
	}
	e := &Config{}
	shown["env"] = fmt.Sprint(e.ApplyEnv([]string{"LOGSHIP_SINK_ACCESS_KEY_SECRETS=" + secret, "LOGSHIP_SINK_ACCESS_KEY_SECRET=" + secret}))
	shown["set"] = fmt.Sprint(e.Set("sink.access_key_secre", secret))
	if e.Sink.OSS.AccessKeySecret.Reveal() != secret {
		t.Error("secret not read from the environment")
	}
	shown["env config"] = fmt.Sprintf("%v %+v %#v", e, e, e)
	_, err = Resolve("", []string{"LOGSHIP_SINK_ACCESS_KEY_SECRET=" + secret, "LOGSHIP_SINK_TYPE=oss"}, nil)
	shown["resolve"] = fmt.Sprint(err)

	for name, s := range shown {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the secret:\n%s", name, s)
		}
	}
}

// TestKeyIDMasked: the access key id is read whole and shown masked
// ("LTAI****0042"), as check and the agent's log show it.
func TestKeyIDMasked(t *testing.T) {
	doc := "app: shop\nsources: [{type: file, paths: [a]}]\nsink:\n  type: oss\n  bucket: my-logs\n  region: cn-hangzhou\n" +
		"  access_key_id: LTAI5tAbcdefgh0042\n  access_key_secret: s3cr3t-value\n"
	c, err := Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Sink.OSS.AccessKeyID.Reveal() != "LTAI5tAbcdefgh0042" {
		t.Fatalf("read %q", c.Sink.OSS.AccessKeyID.Reveal())
	}
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{string(y), fmt.Sprintf("%v %+v %#v", c.Sink.OSS, c.Sink.OSS, c.Sink.OSS)} {
		if strings.Contains(s, "LTAI5tAbcdefgh0042") || !strings.Contains(s, "LTAI****0042") {
			t.Errorf("key id not masked:\n%s", s)
		}
	}
}
