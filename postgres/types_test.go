package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/boxoffice/boxoffice/postgres"
)

// TestTextTypes checks that arrays of text ids and dates go in binary when
// they are in canonical form, and that the server reads every form as it
// would read text: the same values, and the same refusal of a bad one.
func TestTextTypes(t *testing.T) {
	m := pgtype.NewMap()
	postgres.RegisterTypes(m)
	ids := []string{"01a24e97-2288-720e-ae9e-1ed418203fca", "01A24E97-2288-720E-AE9E-1ED418203FCB"}
	days := []string{"2027-03-22", "1999-12-31", "2000-01-01"}
	if _, err := m.Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, ids, nil); err != nil {
		t.Errorf("uuid[] of canonical strings in binary: %v", err)
	}
	if _, err := m.Encode(pgtype.DateArrayOID, pgtype.BinaryFormatCode, days, nil); err != nil {
		t.Errorf("date[] of canonical strings in binary: %v", err)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		unreachable(t, err)
	}
	defer conn.Close(ctx)
	postgres.RegisterTypes(conn.TypeMap())
	for _, c := range []struct {
		name string
		arg  []string
		cast string
		want string
	}{
		{"ids", ids, "uuid[]", "{01a24e97-2288-720e-ae9e-1ed418203fca,01a24e97-2288-720e-ae9e-1ed418203fcb}"},
		{"ids in other forms", []string{"{01a24e97-2288-720e-ae9e-1ed418203fca}", "01a24e972288720eae9e1ed418203fca"}, "uuid[]",
			"{01a24e97-2288-720e-ae9e-1ed418203fca,01a24e97-2288-720e-ae9e-1ed418203fca}"},
		{"dates", days, "date[]", "{2027-03-22,1999-12-31,2000-01-01}"},
		{"dates in other forms", []string{"20270322", "March 22, 2027"}, "date[]", "{2027-03-22,2027-03-22}"},
	} {
		var got string
		if err := conn.QueryRow(ctx, "SELECT $1::"+c.cast+"::text", c.arg).Scan(&got); err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	for _, c := range []struct{ cast, bad string }{{"uuid[]", "01a24e97-2288-720e-ae9e-1ed418203fcz"}, {"date[]", "2027-02-30"}} {
		var got string
		err := conn.QueryRow(ctx, "SELECT $1::"+c.cast+"::text", []string{c.bad}).Scan(&got)
		if pe, ok := err.(*pgconn.PgError); !ok || (pe.Code != "22P02" && pe.Code != "22008") {
			t.Errorf("%s %q: got %q, %v; want the server's refusal", c.cast, c.bad, got, err)
		}
	}
}
