package file

import (
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// sourceMetrics are the per-source series, labelled {source="NAME"}.
type sourceMetrics struct {
	bytesRead     *metrics.Counter // bytes handed to the pipeline
	linesSplit    *metrics.Counter // lines longer than max_line_bytes, split into pieces
	partialLines  *metrics.Counter // unterminated last lines shipped after partial_line_after
	bytesAbandon  *metrics.Counter // bytes of rotated/deleted/truncated files never read (bounds hit)
	rotations     *metrics.Counter // files renamed or moved out of the paths
	truncations   *metrics.Counter // truncations (copytruncate or plain)
	copies        *metrics.Counter // files recognised as copies of a known stream (not shipped)
	openFiles     *metrics.Gauge   // descriptors held
	waitingFiles  *metrics.Gauge   // files waiting for a descriptor (max_open_files)
	readErrors    *metrics.Counter // open/read errors
	streamsOpened *metrics.Counter
}

func newSourceMetrics(source string) *sourceMetrics {
	l := `{source="` + labelEscaper.Replace(source) + `"}`
	return &sourceMetrics{
		bytesRead:     metrics.GetOrCreateCounter("logship_file_bytes_read_total" + l),
		linesSplit:    metrics.GetOrCreateCounter("logship_file_lines_split_total" + l),
		partialLines:  metrics.GetOrCreateCounter("logship_file_partial_lines_total" + l),
		bytesAbandon:  metrics.GetOrCreateCounter("logship_file_bytes_abandoned_total" + l),
		rotations:     metrics.GetOrCreateCounter("logship_file_rotations_total" + l),
		truncations:   metrics.GetOrCreateCounter("logship_file_truncations_total" + l),
		copies:        metrics.GetOrCreateCounter("logship_file_copies_total" + l),
		openFiles:     metrics.GetOrCreateGauge("logship_file_open_files"+l, nil),
		waitingFiles:  metrics.GetOrCreateGauge("logship_file_waiting_files"+l, nil),
		readErrors:    metrics.GetOrCreateCounter("logship_file_errors_total" + l),
		streamsOpened: metrics.GetOrCreateCounter("logship_file_streams_opened_total" + l),
	}
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
