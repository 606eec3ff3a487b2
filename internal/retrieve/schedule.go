package retrieve

import "runtime"

// lanes is the number of output files written at once.
func lanes() int { return min(4, max(2, runtime.GOMAXPROCS(0))) }

// schedule spreads the outputs to write over n lanes, balancing their
// stored bytes, and returns the steps to fetch in the order the fetcher
// must deliver them: the lanes' steps interleaved by stored bytes, so that
// every lane finds its next steps among those fetched, and laneOf, the
// lane of each. Each lane's steps keep the order of its outputs and of
// their steps.
func schedule(outs []*output, n int) (perLane [][]*output, fetch []*Step, laneOf map[*Step]int) {
	perLane = make([][]*output, n)
	load := make([]int64, n)
	queue := make([][]*Step, n)
	for _, o := range outs {
		if o.upToDate {
			continue
		}
		i := 0
		for j := range load {
			if load[j] < load[i] {
				i = j
			}
		}
		perLane[i] = append(perLane[i], o)
		for _, s := range o.steps {
			load[i] += s.Chunk.Size
			if _, ok := o.src[segKeyOf(s)]; !ok {
				queue[i] = append(queue[i], s)
			}
		}
	}
	laneOf = map[*Step]int{}
	sent := make([]int64, n)
	for {
		i := -1
		for j := range queue {
			if len(queue[j]) > 0 && (i < 0 || sent[j] < sent[i]) {
				i = j
			}
		}
		if i < 0 {
			return perLane, fetch, laneOf
		}
		s := queue[i][0]
		queue[i] = queue[i][1:]
		sent[i] += s.Chunk.Size
		fetch = append(fetch, s)
		laneOf[s] = i
	}
}
