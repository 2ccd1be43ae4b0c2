package http

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"
)

// TestDocsOrder checks that the OpenAPI document lists its sections in the
// order a fan travels, then admin and operations, and that every operation
// is in one of them.
func TestDocsOrder(t *testing.T) {
	s, _ := bareServer(t, Options{})
	w := serve(s, httptest.NewRequest("GET", "/openapi.json", nil))
	var doc struct {
		Tags  []struct{ Name string } `json:"tags"`
		Paths map[string]map[string]struct {
			OperationID string   `json:"operationId"`
			Tags        []string `json:"tags"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tag := range doc.Tags {
		got = append(got, tag.Name)
	}
	want := []string{tagUsers, tagConcert, tagQueue, tagBooking, tagAdmin, tagOps}
	if !slices.Equal(got, want) {
		t.Errorf("sections: got %q, want %q", got, want)
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if len(op.Tags) != 1 || !slices.Contains(want, op.Tags[0]) {
				t.Errorf("%s %s (%s): got tags %q, want one of the sections", method, path, op.OperationID, op.Tags)
			}
		}
	}
}
