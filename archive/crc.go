package archive

type crcWriter struct{ c uint32 }

func newCRC() *crcWriter { return &crcWriter{} }

func (w *crcWriter) Write(p []byte) (int, error) {
	w.c = UpdateChecksum(w.c, p)
	return len(p), nil
}

func (w *crcWriter) sum() string { return FormatChecksum(w.c) }
