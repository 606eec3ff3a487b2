package pipeline

import "github.com/VictoriaMetrics/metrics"

var (
	mChunks           = metrics.NewCounter(`logship_pipeline_chunks_total`)
	mRawBytes         = metrics.NewCounter(`logship_pipeline_raw_bytes_total`)
	mStoredBytes      = metrics.NewCounter(`logship_pipeline_stored_bytes_total`)
	mLines            = metrics.NewCounter(`logship_pipeline_lines_total`)
	mRetries          = metrics.NewCounter(`logship_pipeline_upload_retries_total`)
	mRetriesPermanent = metrics.NewCounter(`logship_pipeline_upload_refused_total`)
	mCheckpointSaves  = metrics.NewCounter(`logship_pipeline_checkpoint_saves_total`)
	mCheckpointErrors = metrics.NewCounter(`logship_pipeline_checkpoint_errors_total`)
	mInFlight         = metrics.NewGauge(`logship_pipeline_chunks_in_flight`, nil)
	mBackpressure     = metrics.NewCounter(`logship_pipeline_backpressure_waits_total`)
)

// Shipped returns the chunks and raw bytes made durable by this process so
// far (all pipelines), for progress reports and benchmarks.
func Shipped() (chunks, rawBytes, storedBytes uint64) {
	return mChunks.Get(), mRawBytes.Get(), mStoredBytes.Get()
}
