package oss

import (
	"slices"
)

// Policy is a RAM policy document (Version "1"), as the RAM console and
// `aliyun ram CreatePolicy --PolicyDocument` take it.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Policy.
type Statement struct {
	Effect    string                         `json:"Effect"`
	Action    []string                       `json:"Action"`
	Resource  []string                       `json:"Resource"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// AgentOps are the OSS operations the agent's sink calls: chunks
// (PutObject), crash artifacts (multipart, resumed after a restart:
// ListMultipartUploads and ListParts; an upload that cannot be resumed is
// aborted) and the check that an artifact is already stored before it is
// sent again (ListObjectsV2 with its key as prefix).
var AgentOps = []string{
	"PutObject", "InitiateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload",
	"ListMultipartUploads", "ListParts", "ListObjectsV2",
}

// ControlOps are the operations of remote snapshots through the bucket
// (internal/control, under PREFIX/_control/app=APP/): the agent's poller
// lists and reads requests, reads answers to see whether it already
// answered, and writes its answers. It never deletes.
var ControlOps = []string{"ListObjectsV2", "GetObject", "PutObject"}

// AgentPolicy is the least-privilege RAM policy of an agent shipping to
// bucket under prefix: what AgentOps need and nothing else, objects
// limited to PREFIX*, listings to the oss:Prefix PREFIX*. With control,
// controlRoot not empty, the control prefix of remote snapshots
// (control.Root(prefix, app)) may also be
// listed, read and answered. Reading the archive back (ls, pull, cat) needs
// oss:ListObjects and oss:GetObject, which this policy does not grant.
func AgentPolicy(bucket, prefix, controlRoot string) Policy {
	p := Policy{Version: "1"}
	p.Statement = append(p.Statement, statements(bucket, prefix, AgentOps)...)
	if controlRoot != "" {
		p.Statement = append(p.Statement, statements(bucket, controlRoot, ControlOps)...)
	}
	return p
}

// statements grants the RAM actions of ops: object actions on
// BUCKET/PREFIX*, ListObjects on the bucket for keys under PREFIX (the
// oss:Prefix condition), other bucket actions on the bucket.
func statements(bucket, prefix string, ops []string) []Statement {
	var objects, lists, others []string
	for _, op := range ops {
		a := ramAction[op]
		switch {
		case a == "oss:ListObjects":
			lists = appendNew(lists, a)
		case bucketOps[op]:
			others = appendNew(others, a)
		default:
			objects = appendNew(objects, a)
		}
	}
	bucketRes := "acs:oss:*:*:" + bucket
	var out []Statement
	if len(objects) > 0 {
		out = append(out, Statement{Effect: "Allow", Action: objects, Resource: []string{bucketRes + "/" + prefix + "*"}})
	}
	if len(lists) > 0 {
		st := Statement{Effect: "Allow", Action: lists, Resource: []string{bucketRes}}
		if prefix != "" {
			st.Condition = map[string]map[string][]string{"StringLike": {"oss:Prefix": {prefix + "*"}}}
		}
		out = append(out, st)
	}
	if len(others) > 0 {
		// ListMultipartUploads has no oss:Prefix condition key: a
		// condition on it would deny it.
		out = append(out, Statement{Effect: "Allow", Action: others, Resource: []string{bucketRes}})
	}
	return out
}

func appendNew(list []string, a string) []string {
	if slices.Contains(list, a) {
		return list
	}
	return append(list, a)
}

// Actions returns the distinct actions of a policy, sorted.
func (p Policy) Actions() []string {
	var out []string
	for _, st := range p.Statement {
		for _, a := range st.Action {
			out = appendNew(out, a)
		}
	}
	slices.Sort(out)
	return out
}
