package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/boxoffice/boxoffice"
)

// Request bodies are decoded strictly and every refusal speaks of the API's
// fields ("seatNumbers[0] is out of range"), never of the Go types behind
// them. huma decodes a body twice: into an any, which its validator checks
// against the schema (types, enums, bounds, unknown fields), then into the
// operation's input type. decodeJSON does both.
//
// Integer fields take whole numbers written with digits only: 1000, not
// 1e3 nor 1000.0. No client that counts won or seats has a reason to write
// them otherwise, and refusing them keeps every integer exact without
// arithmetic on exponents a client chose.

// bodyError is a body that cannot be decoded; its message names the field.
type bodyError string

func (e bodyError) Error() string { return string(e) }

// decodeJSON is the Unmarshal of the API's JSON format: one JSON value and
// nothing after it, numbers checked against the type of their field.
func decodeJSON(data []byte, v any) error {
	if p, ok := v.(*any); ok {
		if json.Unmarshal(data, p) == nil {
			return nil
		}
		// Malformed, or a number beyond float64: say which.
		tree, err := parseJSON(data)
		if err != nil {
			return err
		}
		*p = floats(tree)
		return nil
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	// Find the field that failed, to name it.
	tree, perr := parseJSON(data)
	if perr != nil {
		return perr
	}
	if t := reflect.TypeOf(v); t != nil && t.Kind() == reflect.Pointer {
		if cerr := checkValue(tree, t.Elem(), ""); cerr != nil {
			return cerr
		}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return bodyError(te.Field + " has the wrong type")
	}
	return bodyError("body does not have the form this request needs")
}

// parseJSON parses data, which must hold exactly one JSON value, keeping
// numbers as written.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, bodyError(fmt.Sprintf("body is not valid JSON at byte %d: %s", se.Offset, se.Error()))
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, bodyError("body ends before its JSON value is complete")
		}
		return nil, bodyError("body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bodyError("body must hold one JSON value, and something follows it")
	}
	return tree, nil
}

// floats turns the numbers of tree into float64, as the schema validator
// reads them; a number too large for one becomes an infinity, which the
// validator refuses where a string is due and checkValue refuses anywhere.
func floats(tree any) any {
	switch t := tree.(type) {
	case json.Number:
		f, _ := strconv.ParseFloat(string(t), 64)
		return f
	case map[string]any:
		for k, v := range t {
			t[k] = floats(v)
		}
	case []any:
		for i, v := range t {
			t[i] = floats(v)
		}
	}
	return tree
}

var timeType = reflect.TypeFor[time.Time]()

// checkValue checks that v, parsed by parseJSON, fits type t; path is v's
// place in the body in the API's terms ("grades[1].price").
func checkValue(v any, t reflect.Type, path string) error {
	if v == nil {
		return nil // null leaves the field as it is
	}
	name := path
	if name == "" {
		name = "body"
	}
	wrong := func(what string) error { return bodyError(name + " must be " + what) }
	if t == timeType {
		s, ok := v.(string)
		var tm time.Time
		if !ok || tm.UnmarshalText([]byte(s)) != nil {
			return wrong("an RFC 3339 time such as 2026-12-24T19:00:00+09:00")
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkValue(v, t.Elem(), path)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return wrong("an object")
		}
		return checkFields(m, t, path)
	case reflect.Slice, reflect.Array:
		a, ok := v.([]any)
		if !ok {
			return wrong("an array")
		}
		for i, e := range a {
			if err := checkValue(e, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return checkNumber(v, t, name)
	case reflect.String:
		if _, ok := v.(string); !ok {
			return wrong("a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return wrong("true or false")
		}
	}
	return nil
}

// checkFields checks that the members of m that name fields of struct t,
// in any case, fit those fields.
func checkFields(m map[string]any, t reflect.Type, path string) error {
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || key == "-" {
			continue
		}
		if key == "" {
			key = f.Name
		}
		for k, fv := range m {
			if strings.EqualFold(k, key) {
				if err := checkValue(fv, f.Type, join(path, key)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkNumber checks that v is a number that fits the integer or float
// type t; name is v's place in the body.
func checkNumber(v any, t reflect.Type, name string) error {
	wrong := func(what string) error { return bodyError(name + " must be " + what) }
	n, ok := v.(json.Number)
	var err error
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		if !ok {
			return wrong("a number")
		}
		_, err = strconv.ParseFloat(string(n), t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if err := checkWhole(n, ok, wrong); err != nil {
			return err
		}
		_, err = strconv.ParseUint(string(n), 10, t.Bits())
	default:
		if err := checkWhole(n, ok, wrong); err != nil {
			return err
		}
		_, err = strconv.ParseInt(string(n), 10, t.Bits())
	}
	if err != nil {
		return bodyError(name + " is out of range")
	}
	return nil
}

// checkWhole checks that n, when ok, is written as a whole number.
func checkWhole(n json.Number, ok bool, wrong func(string) error) error {
	if !ok {
		return wrong("a whole number")
	}
	if !digitsOnly(string(n)) {
		return wrong("a whole number written with digits only, without a fraction or an exponent")
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// digitsOnly reports whether the JSON number n has no fraction and no
// exponent.
func digitsOnly(n string) bool { return !strings.ContainsAny(n, ".eE") }

// DefaultMaxHeaderBytes bounds the request line and headers of a request
// (Options.MaxHeaderBytes). The listening http.Server must allow more, so
// that such a request reaches the Server and is refused as a problem rather
// than by net/http's plain-text 431.
const DefaultMaxHeaderBytes = 64 << 10

// headerBytes is about how many bytes r's request line and headers took on
// the wire.
func headerBytes(r *nethttp.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 + len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// headersTooLarge is the problem answering a request whose headers exceed
// limit bytes. The contract has no code for it: INVALID_REQUEST with status
// 431.
func headersTooLarge(limit int) *Problem {
	p := newProblem(boxoffice.CodeInvalidRequest, "the request headers are larger than "+strconv.Itoa(limit)+" bytes")
	p.Status = nethttp.StatusRequestHeaderFieldsTooLarge
	return p
}
