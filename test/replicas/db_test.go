package replicas

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The tests read the database directly only to check what the replicas
// wrote (rows, not their caches) and to cut a replica's notification
// connection; they never write it.

// dbQuery runs one query on a connection of its own and returns every row as
// strings (NULL as "").
func dbQuery(t testing.TB, dbURL, sql string, args ...any) [][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			if v != nil {
				row[i] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// dbInt runs a query that returns one integer.
func dbInt(t testing.TB, dbURL, sql string, args ...any) int {
	t.Helper()
	rows := dbQuery(t, dbURL, sql, args...)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%s: want one value, got %v", sql, rows)
	}
	n, err := strconv.Atoi(rows[0][0])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// dbColumn runs a query that returns one column.
func dbColumn(t testing.TB, dbURL, sql string, args ...any) []string {
	t.Helper()
	var out []string
	for _, row := range dbQuery(t, dbURL, sql, args...) {
		out = append(out, row[0])
	}
	return out
}

// terminateListener ends r's notification connection with
// pg_terminate_backend and returns the PostgreSQL backend pid it ended.
//
// Several replicas hold a listener on the same database, so the backend is
// picked by the client side of its TCP connection: the local ports of the
// sockets r's process owns (/proc/<pid>/fd → socket inodes →
// /proc/<pid>/net/tcp), which pg_stat_activity reports as client_port. Of
// r's backends, the listener is the one whose application_name starts with
// "certbound-listener"; there must be exactly one.
func terminateListener(t testing.TB, dbURL string, r *replica) int {
	t.Helper()
	ports, err := localTCPPorts(r.pid())
	if err != nil {
		t.Fatalf("sockets of replica %s: %v", r.name, err)
	}
	var list []int32
	for p := range ports {
		list = append(list, int32(p))
	}
	rows := dbQuery(t, dbURL, `SELECT pid, application_name FROM pg_stat_activity
		WHERE datname = current_database() AND client_port = ANY($1)`, list)
	var listeners []string
	for _, row := range rows {
		if strings.HasPrefix(row[1], "certbound-listener") {
			listeners = append(listeners, row[0])
		}
	}
	if len(listeners) != 1 {
		t.Fatalf("replica %s has %d connections named certbound-listener* (its backends: %v); want exactly one", r.name, len(listeners), rows)
	}
	pid, _ := strconv.Atoi(listeners[0])
	if ok := dbQuery(t, dbURL, `SELECT pg_terminate_backend($1)`, pid); len(ok) != 1 || ok[0][0] != "true" {
		t.Fatalf("pg_terminate_backend(%d) = %v", pid, ok)
	}
	return pid
}

// localTCPPorts returns the local ports of the TCP sockets the process pid
// has open.
func localTCPPorts(pid int) (map[int]bool, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	ports := map[int]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || !inodes[fields[9]] {
				continue
			}
			_, port, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseUint(port, 16, 16); err == nil {
				ports[int(p)] = true
			}
		}
		f.Close()
	}
	return ports, nil
}
