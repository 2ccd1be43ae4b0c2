package postgres

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// The store keeps ids and dates as text in Go ("0190…-…", "2027-03-22").
// pgx sends a lone string parameter as text, but a []string bound to a
// uuid[] or date[] parameter it first tries to send in binary, fails, builds
// an error that prints the whole slice, and only then sends it as text. The
// batches of holds and payments bind several such arrays each: that
// failure was a twentieth of the server's CPU while holding. The codecs
// below send the canonical text forms in binary directly; anything else
// still fails the binary encoding and goes as text, to be judged by the
// server exactly as before.

// registerTypes replaces m's uuid and date types, and their arrays, with
// ones that also encode canonical strings in binary.
func registerTypes(m *pgtype.Map) {
	uuidType := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: stringCodec{pgtype.UUIDCodec{}, encodeUUID}}
	dateType := &pgtype.Type{Name: "date", OID: pgtype.DateOID, Codec: stringCodec{pgtype.DateCodec{}, encodeDate}}
	m.RegisterType(uuidType)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: uuidType}})
	m.RegisterType(dateType)
	m.RegisterType(&pgtype.Type{Name: "_date", OID: pgtype.DateArrayOID, Codec: &pgtype.ArrayCodec{ElementType: dateType}})
}

// errNotCanonical sends a value the codecs below do not take to the text
// format.
var errNotCanonical = errors.New("not in canonical form")

// stringCodec is one of pgx's codecs that also encodes a string in binary
// with encode, which returns errNotCanonical for a string not in the
// canonical form.
type stringCodec struct {
	pgtype.Codec
	encode stringPlan
}

func (c stringCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(string); ok && format == pgtype.BinaryFormatCode {
		return c.encode
	}
	return c.Codec.PlanEncode(m, oid, format, value)
}

// stringPlan encodes a string in binary.
type stringPlan func(s string, buf []byte) ([]byte, error)

func (p stringPlan) Encode(value any, buf []byte) ([]byte, error) { return p(value.(string), buf) }

// encodeUUID encodes a uuid of the canonical 36-character form.
func encodeUUID(s string, buf []byte) ([]byte, error) {
	if len(s) != 36 {
		return nil, errNotCanonical
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return nil, errNotCanonical
	}
	return append(buf, id[:]...), nil
}

// epoch is PostgreSQL's day 0 of dates.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// encodeDate encodes a date YYYY-MM-DD: days since 2000-01-01.
func encodeDate(s string, buf []byte) ([]byte, error) {
	if len(s) != len(time.DateOnly) {
		return nil, errNotCanonical
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return nil, errNotCanonical
	}
	days := int32(t.Sub(epoch).Hours() / 24)
	return binary.BigEndian.AppendUint32(buf, uint32(days)), nil
}
