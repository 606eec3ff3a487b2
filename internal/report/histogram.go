package report

import (
	"encoding/json"
	"sort"
	"time"
)

// maxBuckets bounds a histogram: when more buckets would be needed the
// bucket width doubles and neighbours merge.
const maxBuckets = 2048

// Histogram counts records per level in time buckets whose width adapts
// so that at most maxBuckets exist: its size does not grow with the
// lines read, whatever the time span.
type Histogram struct {
	width   int64 // seconds
	buckets map[int64]*[numLevels]int64
}

func (h *Histogram) add(t time.Time, level int) {
	if t.IsZero() {
		return
	}
	if h.buckets == nil {
		h.width, h.buckets = 60, map[int64]*[numLevels]int64{}
	}
	k := floorDiv(t.Unix(), h.width)
	b := h.buckets[k]
	if b == nil {
		if len(h.buckets) >= maxBuckets {
			h.coarsen()
			h.add(t, level)
			return
		}
		b = new([numLevels]int64)
		h.buckets[k] = b
	}
	b[level]++
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func (h *Histogram) coarsen() {
	old := h.buckets
	h.width *= 2
	h.buckets = make(map[int64]*[numLevels]int64, len(old)/2+1)
	for k, v := range old {
		nk := floorDiv(k, 2)
		b := h.buckets[nk]
		if b == nil {
			b = new([numLevels]int64)
			h.buckets[nk] = b
		}
		for i := range v {
			b[i] += v[i]
		}
	}
}

// Width is the width of a bucket.
func (h *Histogram) Width() time.Duration { return time.Duration(h.width) * time.Second }

// Bucket is one time bucket.
type Bucket struct {
	Start  time.Time        `json:"start"`
	Counts [numLevels]int64 `json:"counts"`
}

// Buckets returns the non-empty buckets in time order.
func (h *Histogram) Buckets() []Bucket {
	out := make([]Bucket, 0, len(h.buckets))
	for k, v := range h.buckets {
		out = append(out, Bucket{Start: time.Unix(k*h.width, 0).UTC(), Counts: *v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Rebucket spreads the counts over n equal buckets from..to (for charts:
// every host on one time axis). Counts outside the range are left out.
func (h *Histogram) Rebucket(from, to time.Time, n int) [][numLevels]int64 {
	out := make([][numLevels]int64, n)
	span := to.Sub(from)
	if span <= 0 || n == 0 {
		return out
	}
	for k, v := range h.buckets {
		t := time.Unix(k*h.width, 0).Add(time.Duration(h.width) * time.Second / 2)
		i := int(float64(t.Sub(from)) / float64(span) * float64(n))
		if i == n && t.Equal(to) {
			i--
		}
		if i < 0 || i >= n {
			continue
		}
		for l := range v {
			out[i][l] += v[l]
		}
	}
	return out
}

// MarshalJSON writes the width in seconds and the non-empty buckets.
func (h Histogram) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		WidthSeconds int64    `json:"width_seconds"`
		Buckets      []Bucket `json:"buckets"`
	}{h.width, h.Buckets()})
}
