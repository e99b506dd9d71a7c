//! A frame in a buffer with headroom, so encapsulation can grow it in place.

/// `buf[head..head + len]` is the frame. AF_XDP frames come with headroom in the UMEM
/// chunk; tunnels push their outer headers into it instead of copying the frame.
pub struct PacketBuf<'a> {
    buf: &'a mut [u8],
    head: usize,
    len: usize,
}

impl<'a> PacketBuf<'a> {
    /// `head + len` must fit in `buf`; it is clamped if not.
    pub fn new(buf: &'a mut [u8], head: usize, len: usize) -> Self {
        let head = head.min(buf.len());
        let len = len.min(buf.len() - head);
        PacketBuf { buf, head, len }
    }

    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.head..self.head + self.len]
    }

    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.head..self.head + self.len]
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn head(&self) -> usize {
        self.head
    }

    #[inline]
    pub fn headroom(&self) -> usize {
        self.head
    }

    #[inline]
    pub fn tailroom(&self) -> usize {
        self.buf.len() - self.head - self.len
    }

    /// Grow at the front by `n` bytes (uninitialised content); false if no headroom.
    #[inline]
    pub fn push_front(&mut self, n: usize) -> bool {
        if n > self.head {
            return false;
        }
        self.head -= n;
        self.len += n;
        true
    }

    /// Shrink at the front.
    #[inline]
    pub fn pull_front(&mut self, n: usize) -> bool {
        if n > self.len {
            return false;
        }
        self.head += n;
        self.len -= n;
        true
    }

    /// Set the frame length, within the buffer; false if it does not fit.
    #[inline]
    pub fn set_len(&mut self, len: usize) -> bool {
        if self.head + len > self.buf.len() {
            return false;
        }
        self.len = len;
        true
    }

    /// The whole buffer from the current head to its end, for building a reply in place.
    #[inline]
    pub fn room_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.head..]
    }
}
