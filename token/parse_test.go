package token

import (
	"reflect"
	"testing"
)

// nonNil makes absent and empty strings alike, as encoding/json does.
func nonNil(p proofView) proofView {
	for _, f := range []*[]byte{&p.Algorithm, &p.Challenge, &p.Salt, &p.Signature} {
		if *f == nil {
			*f = []byte{}
		}
	}
	return p
}

// TestParseProof checks that the fast reading of a proof agrees with
// encoding/json whenever it reads one, and leaves the rest to it.
func TestParseProof(t *testing.T) {
	for _, tt := range []struct {
		in   string
		fast bool
	}{
		{`{"algorithm":"SHA-256","challenge":"ab","number":12,"salt":"s?expires=1&","signature":"cd","took":35}`, true},
		{` { "number" : 0 , "salt" : "x" , "test" : true , "took" : 1.5e3 } `, true},
		{`{"number":7,"x":null,"y":false}`, true},
		{`{}`, true},
		{`{"salt":"a\u0026b","number":1}`, false},
		{`{"number":1.0}`, false},
		{`{"number":007}`, false},
		{`{"number":"12"}`, false},
		{`{"number":1,"nested":{"a":1}}`, false},
		{`{"number":1,"list":[1]}`, false},
		{`{"number":1,}`, false},
		{`{"number":1} x`, false},
		{`{"took":1-2}`, false},
		{`{"salt":"a`, false},
		{`[]`, false},
		{``, false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			var fast, slow proofView
			ok := parseProof([]byte(tt.in), &fast)
			if ok != tt.fast {
				t.Fatalf("parseProof: got %v, want %v", ok, tt.fast)
			}
			if !ok {
				return
			}
			if !slow.unmarshal([]byte(tt.in)) {
				t.Fatalf("read fast, but encoding/json does not read it")
			}
			if !reflect.DeepEqual(nonNil(fast), nonNil(slow)) {
				t.Errorf("got %+v, encoding/json %+v", fast, slow)
			}
		})
	}
}
