package schema

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string
	}{
		{in: "8MiB", want: 8 << 20},
		{in: "512KiB", want: 512 << 10},
		{in: "10MB", want: 10_000_000},
		{in: "4096", want: 4096},
		{in: "1GiB", want: 1 << 30},
		{in: "1.5KiB", want: 1536},
		{in: " 8 mib ", want: 8 << 20},
		{in: "8MB/s", wantErr: "is not a size"},
		{in: "-1", wantErr: "is not a size"},
		{in: "", wantErr: "is not a size"},
		{in: "MiB", wantErr: "is not a size"},
		{in: "99999999999GiB", wantErr: "is too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSize(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "30s", want: "30s"},
		{in: "500ms", want: "500ms"},
		{in: "5m", want: "5m"},
		{in: "1h30m", want: "1h30m"},
		{in: "2h", want: "2h"},
		{in: "30", wantErr: `"30" has no unit: write 30s`},
		{in: "1.5", wantErr: `"1.5" has no unit: write 1.5s`},
		{in: "5 minutes", wantErr: "is not a duration"},
		{in: "-1s", wantErr: "is negative"},
		{in: "", wantErr: "empty duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
