package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The bundled example guest, kvd (guests/kvd/kvd.c), is a Redis-protocol
// key-value server. These tests run it under the guest runner (synod run,
// or qemu-hppa with SYNOD_GUEST_RUNNER=qemu-hppa) on a loopback port and
// talk to it as Redis clients do.

// kvdIOTimeout bounds every exchange with the server; generous, because
// the emulator shares two cores with everything else.
const kvdIOTimeout = 60 * time.Second

var listeningLine = regexp.MustCompile(`^kvd: listening on 127\.0\.0\.1:(\d+)\n$`)

// startKVD runs kvd on a port the kernel picks and returns its address.
// Under synod, a guest that does not come up is skipped: the emulator
// cannot run it yet.
func startKVD(t *testing.T) string {
	t.Helper()
	r := selectedRunner(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := r.command(ctx, "guests/kvd", "kvd", "0", "127.0.0.1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		m := listeningLine.FindStringSubmatch(s)
		if m == nil {
			<-exited
			notRunning(t, r, fmt.Sprintf("kvd did not start: stdout %q, stderr %q", s, tail(stderr.Bytes())))
		}
		return net.JoinHostPort("127.0.0.1", m[1])
	case <-time.After(kvdIOTimeout):
		notRunning(t, r, fmt.Sprintf("kvd did not say where it listens within %v; stderr %q", kvdIOTimeout, tail(stderr.Bytes())))
		return ""
	}
}

func notRunning(t *testing.T, r guestRunner, why string) {
	t.Helper()
	if r.name == "synod" {
		t.Skip("synod run cannot run kvd yet: " + why)
	}
	t.Fatal(why)
}

// A respConn is a client connection that speaks RESP.
type respConn struct {
	net.Conn
	r *bufio.Reader
}

func dialKVD(t *testing.T, addr string) *respConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, kvdIOTimeout)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(kvdIOTimeout)))
	return &respConn{Conn: c, r: bufio.NewReader(c)}
}

func encodeCommand(args ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.Bytes()
}

// do sends one command and returns the raw reply.
func (c *respConn) do(t *testing.T, args ...string) string {
	t.Helper()
	_, err := c.Write(encodeCommand(args...))
	require.NoError(t, err)
	reply, err := readReply(c.r)
	require.NoError(t, err, "reply to %q", args)
	return reply
}

// readReply reads one RESP reply and returns it as it was on the wire.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("malformed reply line %q", line)
	}
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$':
		n, err := strconv.Atoi(line[1 : len(line)-2])
		if err != nil || n < -1 {
			return "", fmt.Errorf("bad bulk length in %q", line)
		}
		if n == -1 {
			return line, nil
		}
		body := make([]byte, n+2)
		if _, err := io.ReadFull(r, body); err != nil {
			return "", err
		}
		return line + string(body), nil
	case '*':
		n, err := strconv.Atoi(line[1 : len(line)-2])
		if err != nil || n < -1 {
			return "", fmt.Errorf("bad array length in %q", line)
		}
		var b strings.Builder
		b.WriteString(line)
		for range n {
			item, err := readReply(r)
			if err != nil {
				return "", err
			}
			b.WriteString(item)
		}
		return b.String(), nil
	default:
		return "", fmt.Errorf("unknown reply type in %q", line)
	}
}

func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

const null = "$-1\r\n"

// requireClosed checks that the server closed the connection.
func (c *respConn) requireClosed(t *testing.T) {
	t.Helper()
	rest, err := io.ReadAll(c.r)
	require.NoError(t, err, "want the server to close the connection")
	require.Empty(t, string(rest))
}

func TestKVD(t *testing.T) {
	addr := startKVD(t)

	t.Run("commands", func(t *testing.T) {
		c := dialKVD(t, addr)
		binary := "bin\x00ary\r\nvalue\xff"
		steps := []struct {
			args []string
			want string
		}{
			{[]string{"PING"}, "+PONG\r\n"},
			{[]string{"ping", "hi there"}, bulk("hi there")},
			{[]string{"ECHO", ""}, bulk("")},
			{[]string{"SET", "greeting", "hello"}, "+OK\r\n"},
			{[]string{"GET", "greeting"}, bulk("hello")},
			{[]string{"GET", "missing"}, null},
			{[]string{"SET", "bin\r\nkey", binary}, "+OK\r\n"},
			{[]string{"GET", "bin\r\nkey"}, bulk(binary)},
			{[]string{"SET", "greeting", "again", "NX"}, null},
			{[]string{"SET", "fresh", "1", "XX"}, null},
			{[]string{"SET", "greeting", "bye", "XX", "GET"}, bulk("hello")},
			{[]string{"SET", "k", "v", "EX", "10"}, "-ERR kvd does not expire keys\r\n"},
			{[]string{"SET", "k", "v", "SOMETIMES"}, "-ERR syntax error\r\n"},
			{[]string{"INCR", "counter"}, ":1\r\n"},
			{[]string{"INCRBY", "counter", "41"}, ":42\r\n"},
			{[]string{"DECR", "counter"}, ":41\r\n"},
			{[]string{"DECRBY", "counter", "-9"}, ":50\r\n"},
			{[]string{"INCR", "greeting"}, "-ERR value is not an integer or out of range\r\n"},
			{[]string{"INCRBY", "counter", "1x"}, "-ERR value is not an integer or out of range\r\n"},
			{[]string{"SET", "big", "9223372036854775807"}, "+OK\r\n"},
			{[]string{"INCR", "big"}, "-ERR increment or decrement would overflow\r\n"},
			{[]string{"SET", "padded", "007"}, "+OK\r\n"},
			{[]string{"INCR", "padded"}, "-ERR value is not an integer or out of range\r\n"},
			{[]string{"EXISTS", "greeting", "counter", "missing", "greeting"}, ":3\r\n"},
			{[]string{"MGET", "greeting", "missing", "counter"}, "*3\r\n" + bulk("bye") + null + bulk("50")},
			{[]string{"MSET", "a", "1", "b", "2"}, "+OK\r\n"},
			{[]string{"MSET", "a", "1", "b"}, "-ERR wrong number of arguments for 'mset' command\r\n"},
			{[]string{"APPEND", "a", "23"}, ":3\r\n"},
			{[]string{"STRLEN", "a"}, ":3\r\n"},
			{[]string{"DEL", "a", "b", "missing"}, ":2\r\n"},
			{[]string{"GET"}, "-ERR wrong number of arguments for 'get' command\r\n"},
			{[]string{"PING", "a", "b"}, "-ERR wrong number of arguments for 'ping' command\r\n"},
			{[]string{"FROB", "x", "y\r\n"}, "-ERR unknown command 'FROB', with args beginning with: 'x' 'y??' \r\n"},
			{[]string{"SELECT", "0"}, "+OK\r\n"},
			{[]string{"SELECT", "1"}, "-ERR DB index is out of range\r\n"},
			{[]string{"CONFIG", "GET", "save"}, "*0\r\n"},
			{[]string{"DBSIZE"}, ":5\r\n"},
			{[]string{"FLUSHALL"}, "+OK\r\n"},
			{[]string{"DBSIZE"}, ":0\r\n"},
			{[]string{"GET", "greeting"}, null},
		}
		for _, s := range steps {
			require.Equal(t, s.want, c.do(t, s.args...), "%q", s.args)
		}
		require.Equal(t, "+OK\r\n", c.do(t, "QUIT"))
		c.requireClosed(t)
	})

	t.Run("inline commands", func(t *testing.T) {
		c := dialKVD(t, addr)
		_, err := c.Write([]byte("PING\r\nSET  inline\tvalue\n\r\nGET inline\r\nEXISTS inline nope\n"))
		require.NoError(t, err)
		for _, want := range []string{"+PONG\r\n", "+OK\r\n", bulk("value"), ":1\r\n"} {
			got, err := readReply(c.r)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
	})

	t.Run("pipelining", func(t *testing.T) {
		c := dialKVD(t, addr)
		const n = 500
		var batch bytes.Buffer
		for i := range n {
			batch.Write(encodeCommand("SET", fmt.Sprintf("pipe:%d", i), strconv.Itoa(i*i)))
			batch.Write(encodeCommand("INCR", "pipe:count"))
			batch.Write(encodeCommand("GET", fmt.Sprintf("pipe:%d", i)))
		}
		// Written in one go while replies pile up unread: the server
		// must keep answering in order.
		written := make(chan error, 1)
		go func() {
			_, err := c.Write(batch.Bytes())
			written <- err
		}()
		for i := range n {
			for _, want := range []string{"+OK\r\n", fmt.Sprintf(":%d\r\n", i+1), bulk(strconv.Itoa(i * i))} {
				got, err := readReply(c.r)
				require.NoError(t, err)
				require.Equal(t, want, got, "request %d", i)
			}
		}
		require.NoError(t, <-written)
	})

	t.Run("large values", func(t *testing.T) {
		c := dialKVD(t, addr)
		value := strings.Repeat("0123456789abcdef", 512*1024/16)
		require.Equal(t, "+OK\r\n", c.do(t, "SET", "large", value))
		require.Equal(t, bulk(value), c.do(t, "GET", "large"))
		require.Equal(t, "*2\r\n"+bulk(value)+bulk(value), c.do(t, "MGET", "large", "large"))
		require.Equal(t, ":1\r\n", c.do(t, "DEL", "large"))
	})

	t.Run("garbage", func(t *testing.T) {
		cases := []struct {
			name, input, reply string
		}{
			{"bad array length", "*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
			{"huge array", "*99999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
			{"not a bulk string", "*2\r\n+GET\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"},
			{"negative bulk length", "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
			{"huge bulk length", "*1\r\n$99999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
			{"no CRLF after bulk", "*1\r\n$4\r\nPINGxx", "-ERR Protocol error: expected CRLF after the bulk string\r\n"},
			{"length without CR", "*1\r\n$4\n", "-ERR Protocol error: invalid bulk length\r\n"},
			{"endless inline line", strings.Repeat("x", 70*1024), "-ERR Protocol error: too big inline request\r\n"},
		}
		for _, g := range cases {
			t.Run(g.name, func(t *testing.T) {
				c := dialKVD(t, addr)
				_, err := c.Write([]byte(g.input))
				require.NoError(t, err)
				got, err := readReply(c.r)
				require.NoError(t, err)
				require.Equal(t, g.reply, got)
				c.requireClosed(t)
			})
		}
		t.Run("request too big", func(t *testing.T) {
			c := dialKVD(t, addr)
			part := strings.Repeat("y", 600*1024)
			go func() {
				_, _ = c.Write(encodeCommand("MSET", "k1", part, "k2", part))
			}()
			// The server answers with an error and closes; the close may
			// reset the connection before the reply is read.
			got, err := readReply(c.r)
			if err == nil {
				require.Equal(t, "-ERR Protocol error: request too big\r\n", got)
			} else {
				require.NotErrorIs(t, err, os.ErrDeadlineExceeded)
			}
			d := dialKVD(t, addr)
			require.Equal(t, null, d.do(t, "GET", "k1"))
		})
		t.Run("binary noise", func(t *testing.T) {
			c := dialKVD(t, addr)
			noise := make([]byte, 4096)
			for i := range noise {
				noise[i] = byte(i*131 + i>>3)
			}
			_, err := c.Write(append(noise, '\n'))
			require.NoError(t, err)
			// Whatever it made of the noise, the server is still serving.
			d := dialKVD(t, addr)
			require.Equal(t, "+PONG\r\n", d.do(t, "PING"))
		})
	})

	t.Run("disconnect mid-request", func(t *testing.T) {
		partial := []string{
			"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$5\r\nval",
			"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n",
			"*3\r\n$3\r",
			"SET half value",
		}
		for _, p := range partial {
			for _, reset := range []bool{false, true} {
				c, err := net.DialTimeout("tcp", addr, kvdIOTimeout)
				require.NoError(t, err)
				_, err = c.Write([]byte(p))
				require.NoError(t, err)
				if reset {
					require.NoError(t, c.(*net.TCPConn).SetLinger(0)) // close with RST
				}
				require.NoError(t, c.Close())
			}
		}
		c := dialKVD(t, addr)
		require.Equal(t, "+PONG\r\n", c.do(t, "PING"))
		require.Equal(t, null, c.do(t, "GET", "half"), "a request cut short must not run")

		// A client that half-closes after complete requests still gets
		// every reply.
		h := dialKVD(t, addr)
		_, err := h.Write(append(encodeCommand("SET", "half", "done"), encodeCommand("GET", "half")...))
		require.NoError(t, err)
		require.NoError(t, h.Conn.(*net.TCPConn).CloseWrite())
		for _, want := range []string{"+OK\r\n", bulk("done")} {
			got, err := readReply(h.r)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		h.requireClosed(t)
	})

	t.Run("client that does not read", func(t *testing.T) {
		c := dialKVD(t, addr)
		require.Equal(t, "+OK\r\n", c.do(t, "SET", "blob", strings.Repeat("z", 64*1024)))
		// Ask for far more than the server buffers for one client and
		// never read: the server stops reading this client and goes on
		// serving others.
		go func() {
			req := encodeCommand("GET", "blob")
			for range 2000 {
				if _, err := c.Write(req); err != nil {
					return
				}
			}
		}()
		d := dialKVD(t, addr)
		require.Equal(t, "+PONG\r\n", d.do(t, "PING"))
		require.Equal(t, ":1\r\n", d.do(t, "DEL", "blob"))
	})

	t.Run("concurrent clients", func(t *testing.T) {
		require.Equal(t, "+OK\r\n", dialKVD(t, addr).do(t, "FLUSHALL"))
		const clients, rounds = 40, 50
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for i := range clients {
			wg.Go(func() {
				errs <- hammerKVD(addr, i, rounds)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		c := dialKVD(t, addr)
		require.Equal(t, fmt.Sprintf(":%d\r\n", clients*rounds+1), c.do(t, "INCR", "shared"))
		require.Equal(t, fmt.Sprintf(":%d\r\n", clients+1), c.do(t, "DBSIZE"))
	})

	t.Run("redis-cli", func(t *testing.T) {
		if _, err := exec.LookPath("redis-cli"); err != nil {
			t.Skip("redis-cli is not installed")
		}
		host, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		cli := func(args ...string) string {
			ctx, cancel := context.WithTimeout(context.Background(), kvdIOTimeout)
			defer cancel()
			out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
			require.NoError(t, err, "redis-cli %q: %s", args, out)
			return string(out)
		}
		require.Equal(t, "PONG\n", cli("PING"))
		require.Equal(t, "OK\n", cli("SET", "cli key", "cli value"))
		require.Equal(t, "cli value\n", cli("GET", "cli key"))
		require.Equal(t, "2\n", cli("EXISTS", "cli key", "cli key"))
		require.Equal(t, "\ncli value\n\n", cli("MGET", "nokey", "cli key", "nokey2"))
	})
}

// hammerKVD is one of many concurrent clients: it increments a shared
// counter and keeps a key of its own, checking every reply.
func hammerKVD(addr string, id, rounds int) error {
	c, err := net.DialTimeout("tcp", addr, kvdIOTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(kvdIOTimeout)); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	key := fmt.Sprintf("client:%d", id)
	for i := range rounds {
		req := append(encodeCommand("INCR", "shared"), encodeCommand("SET", key, strconv.Itoa(i))...)
		req = append(req, encodeCommand("GET", key)...)
		if _, err := c.Write(req); err != nil {
			return err
		}
		for j, want := range []string{"", "+OK\r\n", bulk(strconv.Itoa(i))} {
			got, err := readReply(r)
			if err != nil {
				return fmt.Errorf("client %d round %d: %w", id, i, err)
			}
			if j == 0 {
				if !strings.HasPrefix(got, ":") {
					return fmt.Errorf("client %d: INCR replied %q", id, got)
				}
				continue
			}
			if got != want {
				return fmt.Errorf("client %d round %d: got %q, want %q", id, i, got, want)
			}
		}
	}
	return nil
}
