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
// (requests and answers under PREFIX_control/): the agent lists and reads
// requests, writes answers and removes what it handled.
var ControlOps = []string{"ListObjectsV2", "GetObject", "PutObject", "DeleteObject"}

// AgentPolicy is the least-privilege RAM policy of an agent shipping to
// bucket under prefix: what AgentOps need and nothing else, objects
// limited to PREFIX*, listings to the oss:Prefix PREFIX*. With control,
// the control prefix of remote snapshots (PREFIX_control/) may also be
// read, listed and cleaned. Reading the archive back (ls, pull, cat) needs
// oss:ListObjects and oss:GetObject, which this policy does not grant.
func AgentPolicy(bucket, prefix string, control bool) Policy {
	p := Policy{Version: "1"}
	p.Statement = append(p.Statement, statements(bucket, prefix, AgentOps)...)
	if control {
		p.Statement = append(p.Statement, statements(bucket, prefix+"_control/", ControlOps)...)
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
