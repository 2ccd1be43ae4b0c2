package testserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice/internal/testserver"
)

func TestPostgres(t *testing.T) {
	ctx := context.Background()
	pg := testserver.StartPostgres(t)
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, pg.URL())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	count := func() int {
		t.Helper()
		conn, err := pgx.Connect(ctx, pg.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := exec("CREATE TABLE t (x int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	t.Run("Restart", func(t *testing.T) {
		pg.Restart()
		if got := count(); got != 1 {
			t.Fatalf("got %d rows after restart, want 1", got)
		}
	})

	t.Run("Kill", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, pg.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
			t.Fatal(err)
		}
		pg.Kill()
		if err := conn.Ping(ctx); err == nil {
			t.Fatal("got a live connection after Kill, want it broken")
		}
		if err := exec("SELECT 1"); err == nil {
			t.Fatal("got a new connection while killed, want none")
		}
		pg.Start()
		if got := count(); got != 2 {
			t.Fatalf("got %d rows after crash recovery, want 2 (committed rows survive)", got)
		}
	})
}

func TestRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := testserver.StartRedis(t)
	opt, err := goredis.ParseURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	c := goredis.NewClient(opt)
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	t.Run("RestartEmpty", func(t *testing.T) {
		r.Restart()
		n, err := c.Exists(ctx, "k").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatal("got the key after Restart, want an empty server")
		}
	})

	t.Run("Kill", func(t *testing.T) {
		r.Kill()
		if err := c.Ping(ctx).Err(); err == nil {
			t.Fatal("got PONG after Kill, want an error")
		}
		r.Start()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("got %v after Start, want PONG", err)
		}
	})
}
