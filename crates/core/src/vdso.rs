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

/// Finds the vDSO's `clock_gettime` (once per process; later calls return at
/// once). Cold: called when a clock is made, never when one is read.
#[cfg(target_os = "linux")]
pub(crate) fn resolve() {
    imp::resolve_once();
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn read(id: libc::clockid_t, direct: bool) -> u64 {
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
        assert_eq!(rc, 0);
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
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
}
