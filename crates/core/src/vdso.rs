//! The kernel's `clock_gettime`, called straight in the vDSO.
//!
//! libc's `clock_gettime` is a wrapper around the vDSO's: a call through the PLT,
//! a load of the vDSO pointer libc resolved at startup, the call, and a check of
//! the result for a syscall fallback. On the project's VM the wrapper took about
//! a third of a coarse clock read (10% of a gauge `set` against 20% in the vDSO
//! itself; `docs/benchmarks.md`). [`clock_gettime`] finds the vDSO's own function
//! once per process, from the ELF image the kernel maps into every process
//! (`getauxval(AT_SYSINFO_EHDR)`), and calls it directly.
//!
//! A forked child inherits the mapping at the same address, so the resolved
//! pointer stays valid there. Where the vDSO or the symbol is missing (another
//! OS, an architecture without it, a kernel booted with `vdso=0`, a 32-bit
//! image), or the vDSO's function fails, the call goes to libc.
//!
//! [`monotonic_coarse`] goes one step further for the one clock every recording
//! reads: it reads `CLOCK_MONOTONIC_COARSE` straight from the kernel's time data
//! page (the `[vvar]` mapping the vDSO itself reads), with the kernel's own
//! sequence-count protocol (a `now_nanos` of the default clock: 1.6 ns against
//! 4.5 ns through libc's call on the project's VM, `clock_now` in
//! `benches/benches/record.rs`). The page's layout is the kernel's internal
//! business, so it is not trusted: [`resolve`] accepts one of four layouts
//! (those of Linux 5.3 to 6.18 as read from the kernel's sources; the tests
//! check the one of the machine they run on) only after reading, at once, both the coarse monotonic and the coarse real
//! time at that layout's places and finding exactly what libc's
//! `clock_gettime` returns for them in the same tick. Anything else (another
//! layout, no `[vvar]` line, another architecture) leaves the vDSO call in
//! place. A process in a time namespace sees a different page there (its
//! clock mode says so, and its sequence count stays odd); every read checks
//! and hands such a process to the vDSO, which applies the namespace's offsets.

/// `clock_gettime(id, ts)`, through the vDSO when it was found, else libc.
/// Returns libc's convention: 0 on success.
#[cfg(target_os = "linux")]
#[inline]
#[allow(unsafe_code)]
pub(crate) fn clock_gettime(id: libc::clockid_t, ts: &mut libc::timespec) -> libc::c_int {
    use std::sync::atomic::Ordering;
    // Relaxed: the pointer is the whole message (the vDSO was mapped before the
    // program started); a thread that still sees 0 calls libc, which is correct.
    let f = imp::GETTIME.load(Ordering::Relaxed);
    if f != 0 {
        // SAFETY: `f` is the address of the vDSO's `clock_gettime`, found by
        // `imp::resolve` in the image the kernel mapped for the process' whole
        // life; it has the C signature of `clock_gettime` and `ts` is a valid,
        // writable timespec.
        let rc = unsafe {
            let f: imp::GettimeFn = std::mem::transmute(f);
            f(id, ts)
        };
        if rc == 0 {
            return rc;
        }
    }
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(id, ts) }
}

/// `CLOCK_MONOTONIC_COARSE` in nanoseconds, read from the kernel's time data
/// page; `None` where [`resolve`] did not recognise the page, in a time
/// namespace, or if the kernel kept updating the page for 64 tries in a row:
/// the caller then calls [`clock_gettime`].
#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn monotonic_coarse() -> Option<u64> {
    page::read()
}

/// Finds the vDSO's `clock_gettime` and the kernel's time data page (once per
/// process; later calls return at once). Cold: called when a clock is made,
/// never when one is read.
#[cfg(target_os = "linux")]
pub(crate) fn resolve() {
    imp::resolve_once();
    page::resolve_once();
}

/// Whether [`monotonic_coarse`] reads the time data page (for tests).
#[cfg(target_os = "linux")]
#[allow(dead_code)]
pub(crate) fn reads_page() -> bool {
    resolve();
    page::found()
}

/// Whether [`clock_gettime`] calls the vDSO directly (for tests).
#[cfg(target_os = "linux")]
#[allow(dead_code)]
pub(crate) fn direct() -> bool {
    imp::resolve_once();
    imp::GETTIME.load(std::sync::atomic::Ordering::Relaxed) != 0
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod imp {
    use std::ffi::CStr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Once;

    pub(super) type GettimeFn =
        unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int;

    /// The vDSO's `clock_gettime`, or 0 (libc's is used).
    pub(super) static GETTIME: AtomicUsize = AtomicUsize::new(0);

    /// The symbol's name in the vDSO, per architecture (the kernel's
    /// `vdso.lds.S`); elsewhere none, and libc's wrapper serves.
    #[cfg(all(
        target_pointer_width = "64",
        any(target_arch = "x86_64", target_arch = "riscv64")
    ))]
    const NAME: Option<&CStr> = Some(c"__vdso_clock_gettime");
    #[cfg(all(
        target_pointer_width = "64",
        any(target_arch = "aarch64", target_arch = "powerpc64")
    ))]
    const NAME: Option<&CStr> = Some(c"__kernel_clock_gettime");
    #[cfg(not(all(
        target_pointer_width = "64",
        any(
            target_arch = "x86_64",
            target_arch = "riscv64",
            target_arch = "aarch64",
            target_arch = "powerpc64"
        )
    )))]
    const NAME: Option<&CStr> = None;

    pub(super) fn resolve_once() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let Some(name) = NAME else { return };
            // SAFETY: getauxval has no preconditions; it returns 0 when the entry
            // is absent.
            let base = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
            if base == 0 {
                return;
            }
            // SAFETY: `base` is the start of the vDSO's ELF image, mapped
            // readable by the kernel for the process' life (see `lookup`).
            if let Some(f) = unsafe { lookup(base, name.to_bytes()) } {
                // Relaxed: see `clock_gettime`.
                GETTIME.store(f, Ordering::Relaxed);
            }
        });
    }

    // The ELF64 structures read here (`elf.h`), declared locally: libc's
    // bindings do not cover `Elf64_Dyn` on every target.
    #[repr(C)]
    struct Ehdr {
        e_ident: [u8; 16],
        e_type: u16,
        e_machine: u16,
        e_version: u32,
        e_entry: u64,
        e_phoff: u64,
        e_shoff: u64,
        e_flags: u32,
        e_ehsize: u16,
        e_phentsize: u16,
        e_phnum: u16,
        e_shentsize: u16,
        e_shnum: u16,
        e_shstrndx: u16,
    }

    #[repr(C)]
    struct Phdr {
        p_type: u32,
        p_flags: u32,
        p_offset: u64,
        p_vaddr: u64,
        p_paddr: u64,
        p_filesz: u64,
        p_memsz: u64,
        p_align: u64,
    }

    #[repr(C)]
    struct Dyn {
        d_tag: i64,
        d_val: u64,
    }

    #[repr(C)]
    struct Sym {
        st_name: u32,
        st_info: u8,
        st_other: u8,
        st_shndx: u16,
        st_value: u64,
        st_size: u64,
    }

    const PT_LOAD: u32 = 1;
    const PT_DYNAMIC: u32 = 2;
    const DT_NULL: i64 = 0;
    const DT_HASH: i64 = 4;
    const DT_STRTAB: i64 = 5;
    const DT_SYMTAB: i64 = 6;
    const STT_FUNC: u8 = 2;
    const SHN_UNDEF: u16 = 0;

    /// The address of the defined function symbol `name` in the 64-bit ELF image
    /// mapped at `base`, through its dynamic symbol table (`DT_HASH` gives the
    /// number of symbols; the kernel links the vDSO with `--hash-style=both`).
    ///
    /// # Safety
    ///
    /// `base` is the start of a complete ELF image mapped readable, as the kernel
    /// maps the vDSO: every offset and address in its headers lies within it.
    unsafe fn lookup(base: usize, name: &[u8]) -> Option<usize> {
        // SAFETY (whole function): the caller's guarantee; the image's own
        // headers locate every table read here, and each read is of a plain
        // integer field at its natural alignment (ELF64 aligns its structures).
        unsafe {
            let eh = &*(base as *const Ehdr);
            if eh.e_ident[..4] != *b"\x7fELF" || eh.e_ident[4] != 2 {
                return None;
            }
            if usize::from(eh.e_phentsize) != std::mem::size_of::<Phdr>() {
                return None;
            }
            let phdrs = std::slice::from_raw_parts(
                (base + eh.e_phoff as usize) as *const Phdr,
                usize::from(eh.e_phnum),
            );
            // The load bias: where the image is, less where it was linked to be.
            let load = phdrs
                .iter()
                .find(|p| p.p_type == PT_LOAD && p.p_offset == 0)?;
            let bias = base.wrapping_sub(load.p_vaddr as usize);
            let dynamic = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC)?;
            let mut dyns = bias.wrapping_add(dynamic.p_vaddr as usize) as *const Dyn;
            let (mut hash, mut strtab, mut symtab) = (0usize, 0usize, 0usize);
            loop {
                let d = &*dyns;
                let tag = d.d_tag;
                let at = bias.wrapping_add(d.d_val as usize);
                match tag {
                    DT_NULL => break,
                    DT_HASH => hash = at,
                    DT_STRTAB => strtab = at,
                    DT_SYMTAB => symtab = at,
                    _ => {}
                }
                dyns = dyns.add(1);
            }
            if hash == 0 || strtab == 0 || symtab == 0 {
                return None;
            }
            // DT_HASH: nbucket, nchain, ...; nchain is the number of symbols.
            let nchain = *(hash as *const u32).add(1) as usize;
            let syms = std::slice::from_raw_parts(symtab as *const Sym, nchain);
            syms.iter()
                .find(|s| {
                    s.st_info & 0xf == STT_FUNC
                        && s.st_shndx != SHN_UNDEF
                        && s.st_value != 0
                        && CStr::from_ptr((strtab + s.st_name as usize) as *const libc::c_char)
                            .to_bytes()
                            == name
                })
                .map(|s| bias.wrapping_add(s.st_value as usize))
        }
    }
}

/// The kernel's time data page, read directly (see the module docs).
#[cfg(all(
    target_os = "linux",
    not(loom),
    target_endian = "little",
    target_pointer_width = "64",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[allow(unsafe_code)]
mod page {
    use std::sync::atomic::{AtomicU64, Ordering};

    use crate::seqcount::read as read_at;
    use std::sync::Once;

    // `CLOCK.page_seq`: the address of the first clock's `seq` (a `u32`, with
    // the `i32` clock mode after it) in the page, or 0: not found, the vDSO is
    // called. `CLOCK.page_coarse`: the address of that clock's
    // `basetime[CLOCK_MONOTONIC_COARSE]` (`u64` seconds, then `u64`
    // nanoseconds). Beside the clock's other words (see `ClockWords`).
    use crate::clock::CLOCK;

    /// The layouts of the page's first clock in Linux 5.3 to 6.18, as read
    /// from the kernel's sources (`struct vdso_data`, then `struct vdso_clock` in `vdso_time_data`):
    /// where its `seq` is in the page, and where its `basetime` array is from
    /// there. 6.13 and later put the clock at the page's start (5.3 to 6.12 on
    /// arm64 and others too); x86 kernels before 6.13 put it 128 bytes in. The
    /// array follows `seq`, `clock_mode`, `cycle_last`, `mask`, `mult` and
    /// `shift` (32 bytes), and on kernels built with
    /// `CONFIG_GENERIC_VDSO_OVERFLOW_PROTECT` (x86 since 6.10) a `max_cycles`
    /// as well (40).
    const LAYOUTS: [(usize, usize); 4] = [(0, 40), (0, 32), (128, 40), (128, 32)];

    /// `basetime` entries are `{ u64 sec; u64 nsec; }`, indexed by clock id;
    /// the coarse clocks keep plain nanoseconds there.
    const ENTRY: usize = 16;

    /// Bytes of the page that may be read.
    const PAGE: usize = 4096;

    /// The word at `at` in the page.
    ///
    /// # Safety
    ///
    /// `at` is 8-byte aligned and lies in the first page of the `[vvar]`
    /// mapping, which the kernel maps readable for the process' life (the vDSO
    /// reads it on every call).
    unsafe fn word<'a>(at: usize) -> &'a AtomicU64 {
        // SAFETY: the caller's guarantee. The kernel writes the page from
        // other CPUs with plain stores the size of these words; atomic loads
        // (never stores) of read-only memory are allowed.
        unsafe { AtomicU64::from_ptr(at as *mut u64) }
    }

    #[inline]
    pub(super) fn read() -> Option<u64> {
        // Relaxed: the two addresses were stored before `resolve` returned,
        // and the clock that reads them was made after it (as `GETTIME`); a
        // thread that still sees 0 calls the vDSO.
        let seq = CLOCK.page_seq.load(Ordering::Relaxed);
        if seq == 0 {
            return None;
        }
        let ts = CLOCK.page_coarse.load(Ordering::Relaxed);
        // SAFETY: `resolve` stored these only after reading a matching time
        // there: aligned places in the first page of `[vvar]`.
        unsafe { read_at(word(seq), word(ts), word(ts + 8)) }
    }

    pub(super) fn found() -> bool {
        CLOCK.page_seq.load(Ordering::Relaxed) != 0
    }

    pub(super) fn resolve_once() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let Some(page) = vvar_start() else { return };
            // A tick between the reads of a try spoils it; a tick is at least
            // a millisecond and a try takes microseconds.
            for _ in 0..16 {
                match probe(page) {
                    Probe::Found { seq, coarse } => {
                        // Relaxed: see `read`.
                        CLOCK.page_coarse.store(coarse, Ordering::Relaxed);
                        CLOCK.page_seq.store(seq, Ordering::Relaxed);
                        return;
                    }
                    Probe::Ticked => continue,
                    Probe::Unknown => return,
                }
            }
        });
    }

    enum Probe {
        Found { seq: usize, coarse: usize },
        Ticked,
        Unknown,
    }

    /// Reads the coarse monotonic and real times at every known layout's
    /// places between libc reads of both, and takes the layout at which both
    /// equal libc's, if the clock did not tick meanwhile.
    fn probe(page: usize) -> Probe {
        let mono = libc_nanos(libc::CLOCK_MONOTONIC_COARSE);
        let real = libc_nanos(libc::CLOCK_REALTIME_COARSE);
        let found = LAYOUTS.iter().find_map(|&(at, base)| {
            let seq = page + at;
            let coarse = seq + base + ENTRY * libc::CLOCK_MONOTONIC_COARSE as usize;
            let real_at = seq + base + ENTRY * libc::CLOCK_REALTIME_COARSE as usize;
            debug_assert!(coarse + ENTRY <= page + PAGE && real_at + ENTRY <= page + PAGE);
            // SAFETY: aligned places in the first page of `[vvar]` (every
            // offset above is a multiple of 8, and the last ends at 376).
            let (m, r) = unsafe {
                (
                    read_at(word(seq), word(coarse), word(coarse + 8))?,
                    read_at(word(seq), word(real_at), word(real_at + 8))?,
                )
            };
            (Some(m) == mono && Some(r) == real).then_some(Probe::Found { seq, coarse })
        });
        let ticked = libc_nanos(libc::CLOCK_MONOTONIC_COARSE) != mono
            || libc_nanos(libc::CLOCK_REALTIME_COARSE) != real;
        match found {
            _ if mono.is_none() || real.is_none() => Probe::Unknown,
            _ if ticked => Probe::Ticked,
            Some(f) => f,
            None => Probe::Unknown,
        }
    }

    /// `clock_gettime(id)` through libc, in nanoseconds.
    fn libc_nanos(id: libc::clockid_t) -> Option<u64> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid, writable timespec.
        let rc = unsafe { libc::clock_gettime(id, &mut ts) };
        (rc == 0).then(|| (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64)
    }

    /// The start of the `[vvar]` mapping, from `/proc/self/maps`: its first
    /// page holds the time data on every kernel with a generic vDSO.
    fn vvar_start() -> Option<usize> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        let line = maps.lines().find(|l| l.ends_with(" [vvar]"))?;
        let mut fields = line.split_ascii_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let readable = fields.next()?.starts_with('r');
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        (readable && end >= start + PAGE && start % PAGE == 0).then_some(start)
    }
}

/// Where no layout of the time data page is known (other architectures,
/// big-endian, loom builds): every read goes to the vDSO.
#[cfg(all(
    target_os = "linux",
    not(all(
        not(loom),
        target_endian = "little",
        target_pointer_width = "64",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))
))]
mod page {
    #[inline]
    pub(super) fn read() -> Option<u64> {
        None
    }

    pub(super) fn found() -> bool {
        false
    }

    pub(super) fn resolve_once() {}
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// `clock_gettime(id)` in nanoseconds, through this module (`direct`) or
    /// libc; `None` if it failed. Never panics (see `check_in_time_namespace`).
    fn try_read(id: libc::clockid_t, direct: bool) -> Option<u64> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let rc = if direct {
            clock_gettime(id, &mut ts)
        } else {
            #[allow(unsafe_code)]
            // SAFETY: a valid, writable timespec.
            unsafe {
                libc::clock_gettime(id, &mut ts)
            }
        };
        (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }

    fn read(id: libc::clockid_t, direct: bool) -> u64 {
        try_read(id, direct).expect("clock_gettime failed")
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn finds_the_vdso_function_on_x86_64() {
        // Every x86_64 Linux since 2.6.24 maps one with this symbol (unless
        // booted with `vdso=0`, which no CI machine of ours is).
        assert!(direct());
    }

    #[test]
    fn agrees_with_libc() {
        resolve();
        for id in [
            libc::CLOCK_MONOTONIC_COARSE,
            libc::CLOCK_MONOTONIC,
            libc::CLOCK_REALTIME,
        ] {
            for _ in 0..1_000 {
                // Interleaved: each direct read lies between the libc reads
                // around it, for every clock the vDSO serves.
                let a = read(id, false);
                let b = read(id, true);
                let c = read(id, false);
                assert!(a <= b && b <= c, "{id}: {a} {b} {c}");
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn reads_the_time_data_page_on_x86_64() {
        // Every layout from 5.3 to 6.18 is known; a CI machine with a kernel
        // whose layout is not should fail here (the clock still works, through
        // the vDSO call, but the figures in docs/benchmarks.md would not hold).
        assert!(reads_page());
    }

    #[test]
    fn page_reads_agree_with_libc() {
        resolve();
        // Long enough to cross several ticks (1 to 4 ms each).
        let until = std::time::Instant::now() + std::time::Duration::from_millis(30);
        let mut reads = 0u64;
        while std::time::Instant::now() < until || reads < 1_000 {
            let a = read(libc::CLOCK_MONOTONIC_COARSE, false);
            let Some(b) = monotonic_coarse() else {
                assert!(!reads_page(), "the page was found but a read failed");
                return;
            };
            let c = read(libc::CLOCK_MONOTONIC_COARSE, false);
            assert!(a <= b && b <= c, "{a} {b} {c}");
            reads += 1;
        }
    }

    /// What the grandchild in `a_process_in_a_time_namespace_reads_its_time`
    /// checks: 0 when all holds, else which check failed.
    ///
    /// It runs in a forked child of a multithreaded process, so it must not
    /// panic (unwinding allocates, and a lock another thread held at the fork
    /// stays held): failed reads are a code too.
    fn check_in_time_namespace(before: u64) -> i32 {
        if monotonic_coarse().is_some() {
            return 20;
        }
        let read = |direct| try_read(libc::CLOCK_MONOTONIC_COARSE, direct);
        let (Some(a), Some(b), Some(c)) = (read(false), read(true), read(false)) else {
            return 23;
        };
        if !(a <= b && b <= c) {
            return 21;
        }
        // The namespace's offset (1000 s) shows: the page was not read.
        if b < before + 1_000_000_000_000 {
            return 22;
        }
        0
    }

    #[test]
    #[allow(unsafe_code)]
    fn a_process_in_a_time_namespace_reads_its_time() {
        resolve();
        let before = read(libc::CLOCK_MONOTONIC_COARSE, false);
        // SAFETY: the child makes only async-signal-safe calls (unshare, open,
        // write, fork, waitpid, _exit) before its own child, single-threaded,
        // reads clocks (no allocation, no lock) and exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = unsafe {
                // A new user namespace lets an unprivileged user make the
                // time namespace and set its offsets.
                if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWTIME) != 0 {
                    libc::_exit(10);
                }
                let fd = libc::open(c"/proc/self/timens_offsets".as_ptr(), libc::O_WRONLY);
                let line = b"monotonic 1000 0\n";
                if fd < 0
                    || libc::write(fd, line.as_ptr().cast(), line.len()) != line.len() as isize
                {
                    libc::_exit(11);
                }
                libc::close(fd);
                // The namespace applies to children only.
                let grandchild = libc::fork();
                if grandchild == 0 {
                    libc::_exit(check_in_time_namespace(before));
                }
                let mut status = 0;
                if grandchild < 0 || libc::waitpid(grandchild, &mut status, 0) != grandchild {
                    libc::_exit(12);
                }
                if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    13
                }
            };
            unsafe { libc::_exit(code) };
        }
        // Bounded: a child stuck for 10 s is killed (its own child reads two
        // clocks and exits, and cannot block).
        let mut status = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            // SAFETY: `pid` is our child and `status` a valid, writable int.
            let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if waited == pid {
                break;
            }
            assert_eq!(waited, 0, "waitpid failed");
            if std::time::Instant::now() > deadline {
                // SAFETY: `pid` is our child, not yet reaped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                panic!("the child was still running after 10 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(libc::WIFEXITED(status), "child did not exit: {status}");
        let what = match libc::WEXITSTATUS(status) {
            0 => return,
            10 => "unshare(CLONE_NEWUSER | CLONE_NEWTIME) failed (needs Linux >= 5.6 with user namespaces allowed)",
            11 => "could not write /proc/self/timens_offsets",
            12 | 13 => "the grandchild did not exit",
            20 => "the time data page was read in a time namespace",
            21 => "the vDSO read does not lie between libc's",
            22 => "the namespace's monotonic offset did not show",
            23 => "clock_gettime failed in the time namespace",
            _ => "unknown",
        };
        panic!("{what}");
    }
}
