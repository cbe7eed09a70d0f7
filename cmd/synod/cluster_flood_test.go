package main

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// A thousand clients connect to one node at once, far more than the
// guest's listen queue (kvd listens with a backlog of 128) holds. A client
// already connected to that node keeps being served throughout; each of
// the thousand is served, or refused or hung up on within the bound, and
// the refusals are counted in the node's log.
func TestClusterThousandConnectionsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	const (
		clients = 1000
		dialers = 100
	)
	c := startCluster(t, 3, testMachine(""))
	c.waitServing()
	const y = 1
	addr := c.serviceAddr(y)

	established, err := dialKV(addr)
	require.NoError(t, err)
	defer established.Close()
	stop := make(chan struct{})
	var (
		requests       atomic.Int64
		establishedMu  sync.Mutex
		establishedErr error
	)
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := strconv.Itoa(i)
			r, err := established.do("SET", "established", v)
			if err == nil && r != "OK" {
				err = fmt.Errorf("SET answered %q", r)
			}
			if err == nil {
				r, err = established.do("GET", "established")
				if err == nil && r != v {
					err = fmt.Errorf("GET answered %q after SET %s", r, v)
				}
			}
			if err != nil {
				establishedMu.Lock()
				establishedErr = fmt.Errorf("request %d: %w", i, err)
				establishedMu.Unlock()
				return
			}
			requests.Add(1)
		}
	}()

	// Every client holds its connection until all have their outcome, so
	// that the thousand are open at the same time.
	var (
		mu                                 sync.Mutex
		served, full, closed, notConnected int
		hung                               []error
		allDone                            sync.WaitGroup
		release                            = make(chan struct{})
	)
	allDone.Add(clients)
	var dialersDone sync.WaitGroup
	for d := range dialers {
		dialersDone.Add(1)
		go func() {
			defer dialersDone.Done()
			for range clients / dialers {
				conn, err := net.DialTimeout("tcp", addr, answerBound)
				if err != nil {
					mu.Lock()
					notConnected++
					mu.Unlock()
					allDone.Done()
					continue
				}
				go func() {
					defer conn.Close()
					o := request(&kvClient{conn: conn, r: bufio.NewReader(conn)}, "PING")
					mu.Lock()
					switch {
					case o.hung():
						hung = append(hung, fmt.Errorf("dialer %d: %w", d, o.err))
					case o.err == nil && o.reply == "PONG":
						served++
					case o.err != nil && strings.HasPrefix(o.err.Error(), "server error"):
						full++
					default:
						closed++
					}
					mu.Unlock()
					allDone.Done()
					<-release
				}()
			}
		}()
	}
	dialersDone.Wait()
	allDone.Wait()
	close(release)
	close(stop)
	<-loopDone

	t.Logf("%d clients: %d served, %d told the server is full, %d hung up on, %d not connected; "+
		"the established client made %d SET+GET pairs meanwhile", clients, served, full, closed, notConnected, requests.Load())
	establishedMu.Lock()
	require.NoError(t, establishedErr, "the client connected before the flood is served throughout")
	establishedMu.Unlock()
	require.Empty(t, hung, "every client is served, refused or hung up on within %v", answerBound)
	require.Positive(t, served, "the clients the guest accepted are served")
	require.Positive(t, requests.Load(), "the established client was served during the flood")
	c.eventually(fmt.Sprintf("node %d to log the %d connections it hung up on", y, closed), func() bool {
		return loggedRefusals(c.nodeLog(y)) == closed
	})
	r, err := established.do("GET", "established")
	require.NoError(t, err)
	require.NotEqual(t, "(nil)", r)
	c.converged()
}

// refusalLine matches the flood's refusals only: a connection the
// harness tried before the node served (waitServing) is refused for
// another reason, and counted apart.
var refusalLine = regexp.MustCompile(`msg="client connections refused".* count=(\d+) reason="the guest's listen queue is full"`)

// loggedRefusals sums the refusals for a full listen queue that a node's
// log counts.
func loggedRefusals(log string) int {
	total := 0
	for _, m := range refusalLine.FindAllStringSubmatch(log, -1) {
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	return total
}
