package http

import (
	"errors"
	"sync"
	"syscall"
)

// canPark reports whether event streams' connections can be parked here.
const canPark = true

// hangups tells the shards which parked connections their client closed,
// and which can take the rest of a write again: one goroutine waits in
// epoll_wait on its own epoll instance, where each parked connection is
// registered for the peer's hangup, and while a write waits for its
// writability, one shot at a time. Started with the first parked stream.
type hangups struct {
	once    sync.Once
	err     error
	epfd    int
	wake    [2]int // a pipe: a byte written ends the goroutine
	wg      sync.WaitGroup
	mu      sync.Mutex
	byID    map[uint64]*stream
	next    uint64
	stopped bool
}

var errParkingClosed = errors.New("event streams closed")

func (h *hangups) start() error {
	h.once.Do(func() {
		h.epfd, h.err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if h.err != nil {
			return
		}
		if h.err = syscall.Pipe2(h.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); h.err != nil {
			syscall.Close(h.epfd)
			return
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // id 0
		if h.err = syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_ADD, h.wake[0], &ev); h.err != nil {
			h.closeFDs()
			return
		}
		h.byID = make(map[uint64]*stream)
		h.wg.Add(1)
		go h.run()
	})
	return h.err
}

func (h *hangups) closeFDs() {
	syscall.Close(h.wake[0])
	syscall.Close(h.wake[1])
	syscall.Close(h.epfd)
}

// watch registers st's connection.
func (h *hangups) watch(st *stream) error {
	if err := h.start(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	st.pollID = h.next
	if err := h.ctl(st, syscall.EPOLL_CTL_ADD, false); err != nil {
		st.pollID = 0
		return err
	}
	h.byID[st.pollID] = st
	return nil
}

// arm registers st's connection again, for its writability too when
// write: each registration reports one event.
func (h *hangups) arm(st *stream, write bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ctl(st, syscall.EPOLL_CTL_MOD, write)
}

// ctl changes st's registration; h.mu is held, so that the epoll instance
// is not closed meanwhile.
func (h *hangups) ctl(st *stream, op int, write bool) error {
	if h.stopped {
		return errParkingClosed
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(uint32(st.pollID)), Pad: int32(uint32(st.pollID >> 32))}
	if write {
		ev.Events |= syscall.EPOLLOUT
	}
	var err error
	cerr := st.raw.Control(func(fd uintptr) {
		err = syscall.EpollCtl(h.epfd, op, int(fd), &ev)
	})
	return errors.Join(cerr, err)
}

// forget unregisters st's connection, before it closes.
func (h *hangups) forget(st *stream) {
	if st.pollID == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.stopped {
		_ = st.raw.Control(func(fd uintptr) {
			_ = syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		})
	}
	delete(h.byID, st.pollID)
	st.pollID = 0
}

func (h *hangups) run() {
	defer h.wg.Done()
	evs := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(h.epfd, evs, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range evs[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				return
			}
			h.mu.Lock()
			st := h.byID[id]
			h.mu.Unlock()
			if st == nil {
				continue
			}
			if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				st.hungUp.Store(true)
			}
			st.wake()
		}
	}
}

// stop ends the goroutine and closes the epoll instance; every stream is
// forgotten by then.
func (h *hangups) stop() {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	h.once.Do(func() { h.err = errParkingClosed })
	if h.err != nil {
		return
	}
	_, _ = syscall.Write(h.wake[1], []byte{1})
	h.wg.Wait()
	h.closeFDs()
}

// rawWrite writes what of b the socket takes at once.
func rawWrite(raw syscall.RawConn, b []byte) (int, error) {
	var n int
	var err error
	cerr := raw.Write(func(fd uintptr) bool {
		for {
			n, err = syscall.Write(int(fd), b)
			if err != syscall.EINTR {
				return true
			}
		}
	})
	if n < 0 {
		n = 0
	}
	if err == syscall.EAGAIN {
		err = nil
	}
	if cerr != nil {
		return n, cerr
	}
	return n, err
}
