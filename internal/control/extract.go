package control

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/klauspost/compress/zstd"

	"github.com/logship/logship/archive"
)

// ExtractLimits bound what Extract writes.
type ExtractLimits struct {
	MaxBytes int64 // all files together; 0: 16 GiB
	MaxFiles int   // 0: 100,000
}

// Extract unpacks a bundle (tar.zst, outside input) into dir, which must
// exist: only regular files and folders, each name made safe by
// archive.SafePath (no "..", no absolute path), every write confined to
// dir by an os.Root (a symbolic link already in dir cannot lead out),
// existing files never overwritten, sizes bounded. It returns the number
// of files and bytes written.
func Extract(r io.Reader, dir string, lim ExtractLimits) (files int, bytes int64, err error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = 16 << 30
	}
	if lim.MaxFiles <= 0 {
		lim.MaxFiles = 100000
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, 0, fmt.Errorf("extract: %w", err)
	}
	defer root.Close()
	zr, err := zstd.NewReader(r, zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		return 0, 0, fmt.Errorf("extract: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, bytes, nil
		}
		if err != nil {
			return files, bytes, fmt.Errorf("extract: %w", err)
		}
		name, err := archive.SafePath(h.Name)
		if err != nil {
			return files, bytes, fmt.Errorf("extract: entry %q: %w", h.Name, err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return files, bytes, fmt.Errorf("extract: %w", err)
			}
			continue
		case tar.TypeReg:
		default:
			return files, bytes, fmt.Errorf("extract: entry %q: type %q refused (only files and folders)", h.Name, h.Typeflag)
		}
		if files++; files > lim.MaxFiles {
			return files - 1, bytes, fmt.Errorf("extract: more than %d files", lim.MaxFiles)
		}
		if h.Size < 0 || bytes+h.Size > lim.MaxBytes {
			return files - 1, bytes, fmt.Errorf("extract: entry %q of %d bytes goes over the limit of %d", h.Name, h.Size, lim.MaxBytes)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return files - 1, bytes, fmt.Errorf("extract: %w", err)
			}
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return files - 1, bytes, fmt.Errorf("extract: %w", err)
		}
		n, err := io.Copy(f, io.LimitReader(tr, h.Size))
		bytes += n
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil && n != h.Size {
			err = errors.New("short entry")
		}
		if err != nil {
			return files, bytes, fmt.Errorf("extract: %s: %w", name, err)
		}
	}
}
