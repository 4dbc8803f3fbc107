//! Streaming a response out of the registry: a rendering thread writes into a
//! [`ChunkSender`] (fixed-size chunks over a small channel), the connection
//! reads a [`ChannelBody`].
//!
//! While the client keeps up, at most the channel's few chunks, plus the one
//! being filled, are in memory at once, whatever the size of the output. A
//! render must not wait on a slow client for long, though: it holds one of the
//! few render turns (and, while a family is written, that family's series
//! lock). So once it has waited [`PATIENCE`] in all, it renders ahead into a
//! [`Buffer`] shared by all responses, finishes and gives its turn back, and
//! the client reads the rest at its own pace (within the scrape timeout). When
//! the shared buffer is full, it waits for its own client again, but never more
//! than the write timeout in all; past that the response is cut.

use std::collections::VecDeque;
use std::io::{self, BufWriter, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http_body::{Body, Frame, SizeHint};
use lakemetrics_core::{Filter, Registry};
use lakemetrics_export::{Exporter, Format};

/// Chunks in flight between the rendering thread and the connection.
const CHANNEL_CHUNKS: usize = 4;
/// Input gathered before each call into the gzip compressor.
const GZIP_INPUT_BYTES: usize = 32 * 1024;
/// How long, in all, a render waits for its client before rendering ahead into
/// the shared buffer (or the write timeout, if shorter).
pub(crate) const PATIENCE: Duration = Duration::from_secs(1);
/// How often a render waiting for room in the full shared buffer looks again
/// (other responses free room without waking it).
const BUFFER_RETRY: Duration = Duration::from_millis(20);

/// What the rendering thread sends: data, then an explicit end. A channel that
/// closes without the end means the rendering failed, and the body reports an
/// error, so that the connection is cut rather than ending a truncated response
/// as if it were whole.
enum Piece {
    /// Bytes, and whether they are counted in the shared [`Buffer`].
    Data(Bytes, bool),
    End,
}

/// The bytes responses have rendered ahead of their clients, all together,
/// and their limit.
#[derive(Debug)]
pub(crate) struct Buffer {
    limit: u64,
    used: AtomicU64,
}

impl Buffer {
    pub(crate) fn new(limit: u64) -> Buffer {
        Buffer {
            limit,
            used: AtomicU64::new(0),
        }
    }

    /// Counts `n` bytes in, if they fit.
    fn take(&self, n: u64) -> bool {
        // Relaxed: the count guards no other memory; it only bounds the total.
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|&u| u <= self.limit)
            })
            .is_ok()
    }

    /// Counts `n` bytes out.
    fn give(&self, n: u64) {
        self.used.fetch_sub(n, Ordering::Relaxed);
    }

    /// Bytes counted in now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

/// A bounded channel from a blocking thread to an async body: the sender waits
/// on a condition variable (with a deadline, which an async channel's blocking
/// send cannot give), the body on a waker. Each side is woken as soon as the
/// other has made room or sent, so a renderer faster than the socket keeps the
/// channel full without polling.
struct Channel {
    state: Mutex<State>,
    /// Signalled when the body takes a piece, or goes away.
    room: Condvar,
    buffer: Arc<Buffer>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Piece>,
    /// The body is gone (the response was dropped: the client went away).
    body_gone: bool,
    /// The sender is gone: with no `End` queued, rendering failed.
    sender_gone: bool,
    /// The body's waker, while it waits for a piece.
    waker: Option<Waker>,
}

impl Channel {
    /// The state; a panic while it was held (there is no code that can panic
    /// there) would leave it consistent, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The response body: chunks from the rendering thread as they come.
pub(crate) struct ChannelBody {
    channel: Arc<Channel>,
    done: bool,
    /// The scrape timeout: past it, the response is cut even if rendered.
    deadline: Instant,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if Instant::now() >= self.deadline {
            // Dropping the queue (in `drop`) gives its bytes back.
            self.done = true;
            return Poll::Ready(Some(Err(timed_out())));
        }
        let mut st = self.channel.lock();
        match st.queue.pop_front() {
            Some(piece) => {
                drop(st);
                self.channel.room.notify_one();
                match piece {
                    Piece::Data(b, counted) => {
                        if counted {
                            self.channel.buffer.give(b.len() as u64);
                        }
                        Poll::Ready(Some(Ok(Frame::data(b))))
                    }
                    Piece::End => {
                        self.done = true;
                        Poll::Ready(None)
                    }
                }
            }
            None if st.sender_gone => {
                drop(st);
                self.done = true;
                Poll::Ready(Some(Err(io::Error::other(
                    "rendering stopped before the end (timed out or failed)",
                ))))
            }
            None => {
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl Drop for ChannelBody {
    fn drop(&mut self) {
        let mut st = self.channel.lock();
        st.body_gone = true;
        let counted: u64 = st
            .queue
            .drain(..)
            .map(|p| match p {
                Piece::Data(b, true) => b.len() as u64,
                _ => 0,
            })
            .sum();
        drop(st);
        self.channel.buffer.give(counted);
        self.channel.room.notify_one();
    }
}

/// The rendering side: an `io::Write` that cuts what it is given into chunks of
/// about `chunk` bytes and sends each as soon as it is full. When the channel is
/// full it waits for the client, up to [`PATIENCE`] in all, then renders ahead
/// into the shared buffer; with that full too, it waits again, up to the write
/// timeout in all; never past the deadline.
pub(crate) struct ChunkSender {
    channel: Arc<Channel>,
    buf: Vec<u8>,
    chunk: usize,
    deadline: Instant,
    /// How long it may wait for its client, in all.
    write_timeout: Duration,
    /// How long it has waited so far.
    waited: Duration,
}

impl ChunkSender {
    /// Sends the buffered bytes, if any.
    fn send_buffered(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        self.send(Piece::Data(Bytes::from(full), false))
    }

    /// Queues `piece`: at once if the channel has room, into the shared buffer
    /// once patience has run out, or after waiting for room (see the type's
    /// docs).
    fn send(&mut self, piece: Piece) -> io::Result<()> {
        let patience = PATIENCE.min(self.write_timeout);
        let mut st = self.channel.lock();
        loop {
            if st.body_gone {
                return Err(gone());
            }
            let fits = match &piece {
                // The end takes no room.
                Piece::End => true,
                Piece::Data(..) => st.queue.len() < CHANNEL_CHUNKS,
            };
            let ahead = !fits
                && self.waited >= patience
                && match &piece {
                    Piece::Data(b, _) => self.channel.buffer.take(b.len() as u64),
                    Piece::End => false,
                };
            if fits || ahead {
                st.queue.push_back(match piece {
                    Piece::Data(b, _) => Piece::Data(b, ahead),
                    Piece::End => Piece::End,
                });
                let waker = st.waker.take();
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
                return Ok(());
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(timed_out());
            }
            if self.waited >= self.write_timeout {
                return Err(too_slow());
            }
            let mut wait = self
                .deadline
                .saturating_duration_since(now)
                .min(self.write_timeout - self.waited);
            wait = if self.waited < patience {
                wait.min(patience - self.waited)
            } else {
                wait.min(BUFFER_RETRY)
            };
            st = self
                .channel
                .room
                .wait_timeout(st, wait)
                .map_or_else(|e| e.into_inner().0, |(g, _)| g);
            self.waited += now.elapsed();
        }
    }

    /// Errors once the deadline has passed or the client has gone.
    pub(crate) fn check_deadline(&self) -> io::Result<()> {
        if self.channel.lock().body_gone {
            return Err(gone());
        }
        if Instant::now() >= self.deadline {
            return Err(timed_out());
        }
        Ok(())
    }

    /// Sends what is left and the end marker.
    fn finish(mut self) -> io::Result<()> {
        self.send_buffered()?;
        self.send(Piece::End)
    }
}

impl Drop for ChunkSender {
    fn drop(&mut self) {
        let mut st = self.channel.lock();
        st.sender_gone = true;
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the client went away")
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the response took longer than the scrape timeout",
    )
}

fn too_slow() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the client read too slowly for the write timeout, and the shared buffer is full",
    )
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.chunk {
            self.send_buffered()?;
        }
        Ok(data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.write(data).map(drop)
    }

    /// Does not send: the exporter flushes at its end, and a partial chunk goes
    /// out with [`ChunkSender::finish`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink the rendering thread can reach its [`ChunkSender`] through, plain or
/// under a gzip encoder.
trait Sink: Write {
    fn sender(&self) -> &ChunkSender;
}

impl Sink for ChunkSender {
    fn sender(&self) -> &ChunkSender {
        self
    }
}

impl Sink for BufWriter<GzEncoder<ChunkSender>> {
    fn sender(&self) -> &ChunkSender {
        self.get_ref().get_ref()
    }
}

/// One rendering job: what to write and where.
pub(crate) struct Render {
    pub(crate) registry: Registry,
    pub(crate) filter: Filter,
    pub(crate) format: Format,
    /// JSON: the window of summaries' windowed quantiles, if asked (see
    /// [`Exporter::quantile_window`]).
    pub(crate) quantile_window: Option<Duration>,
    pub(crate) gzip: bool,
    pub(crate) chunk_bytes: usize,
    pub(crate) deadline: Instant,
    pub(crate) write_timeout: Duration,
    pub(crate) buffer: Arc<Buffer>,
}

/// A body and the sender that feeds it.
pub(crate) fn channel(
    chunk_bytes: usize,
    deadline: Instant,
    write_timeout: Duration,
    buffer: Arc<Buffer>,
) -> (ChannelBody, ChunkSender) {
    let channel = Arc::new(Channel {
        state: Mutex::new(State::default()),
        room: Condvar::new(),
        buffer,
    });
    (
        ChannelBody {
            channel: channel.clone(),
            done: false,
            deadline,
        },
        ChunkSender {
            channel,
            buf: Vec::with_capacity(chunk_bytes),
            chunk: chunk_bytes,
            deadline,
            write_timeout,
            waited: Duration::ZERO,
        },
    )
}

impl Render {
    /// Starts rendering on a blocking thread of the current runtime and returns
    /// the body that streams it.
    pub(crate) fn spawn(self, permit: tokio::sync::OwnedSemaphorePermit) -> ChannelBody {
        let (body, sender) = channel(
            self.chunk_bytes,
            self.deadline,
            self.write_timeout,
            self.buffer.clone(),
        );
        tokio::task::spawn_blocking(move || {
            // An error here (the client went away, the deadline passed) needs no
            // report: dropping the sender without its end marker makes the body
            // fail, which cuts the connection.
            let _ = self.run(sender);
            drop(permit);
        });
        body
    }

    /// Renders into `sender`, family by family.
    pub(crate) fn run(self, sender: ChunkSender) -> io::Result<()> {
        if self.gzip {
            // The exporter's writes are small (a name, a label, a number), and
            // the encoder runs the compressor on every write: batch them first
            // (without the buffer, gzip runs ~20x slower).
            let gz = GzEncoder::new(sender, Compression::fast());
            let buffered = self.export(BufWriter::with_capacity(GZIP_INPUT_BYTES, gz))?;
            let gz = buffered.into_inner().map_err(|e| e.into_error())?;
            gz.finish()?.finish()
        } else {
            self.export(sender)?.finish()
        }
    }

    fn export<W: Sink>(&self, out: W) -> io::Result<W> {
        let mut exporter = Exporter::new(self.format, out).quantile_window(self.quantile_window);
        // After each family: stop early if the client left or time is up, so
        // that an abandoned scrape of a huge registry does not run to its end.
        exporter.write_registry_with(&self.registry, &self.filter, |w| {
            w.sender().check_deadline()
        })?;
        exporter.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    /// Takes one piece from `body`, as the connection would.
    fn take(body: &mut ChannelBody) -> Option<usize> {
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        match Pin::new(body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(f))) => f.into_data().ok().map(|b| b.len()),
            _ => None,
        }
    }

    #[test]
    fn renders_ahead_into_the_shared_buffer_within_its_limit() {
        const CHUNK: usize = 1024;
        let buffer = Arc::new(Buffer::new(3 * CHUNK as u64));
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut body, mut sender) =
            channel(CHUNK, deadline, Duration::from_millis(50), buffer.clone());
        // The channel's own chunks take no buffer.
        for _ in 0..CHANNEL_CHUNKS {
            sender.write_all(&[b'x'; CHUNK]).unwrap();
        }
        assert_eq!(buffer.used(), 0);
        // Then, after waiting out its patience, it renders ahead.
        for _ in 0..3 {
            sender.write_all(&[b'x'; CHUNK]).unwrap();
        }
        assert_eq!(buffer.used(), 3 * CHUNK as u64);
        // With the buffer full and its wait used up, it gives up.
        let err = sender.write_all(&[b'x'; CHUNK]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // Reading gives the buffered bytes back, in order; dropping the rest too.
        for _ in 0..CHANNEL_CHUNKS {
            assert_eq!(take(&mut body), Some(CHUNK));
        }
        assert_eq!(take(&mut body), Some(CHUNK));
        assert_eq!(buffer.used(), 2 * CHUNK as u64);
        drop(body);
        assert_eq!(buffer.used(), 0);
        drop(sender);
    }
}
