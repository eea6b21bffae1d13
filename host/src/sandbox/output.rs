//! The strings a call returns, measured where they lie in the guest's
//! memory and copied only within bounds: the output text up to the call's
//! output limit, a task-error's name and cause up to what AWS keeps.
//!
//! wasmtime copies a returned `string` whole, and runs the guest's
//! post-return (which frees it) before the call returns, so the strings
//! can be neither measured later nor lifted lazily. These types lift them
//! instead: they read the pointer and length wasmtime hands them, check
//! the length against the bound, and copy only what fits. The output's
//! bound is the call's own, set around each poll of the call
//! ([`WithOutputLimit`]), since lifting happens inside wasmtime with no
//! access to the call's state.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use wasmtime::ValRaw;
use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext, wasmtime_environ,
};
use wasmtime::component::{ComponentType, Lift};
use wasmtime_environ::component::StringEncoding;

thread_local! {
    /// The output limit of the call being polled on this thread.
    static OUTPUT_LIMIT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Polls `inner` with `limit` as the output limit of whatever it lifts.
pub(crate) struct WithOutputLimit<F> {
    pub limit: Option<usize>,
    pub inner: F,
}

impl<F: Future + Unpin> Future for WithOutputLimit<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let before = OUTPUT_LIMIT.with(|l| l.replace(self.limit));
        let polled = Pin::new(&mut self.inner).poll(cx);
        OUTPUT_LIMIT.with(|l| l.set(before));
        polled
    }
}

/// A returned string, copied only when it is at most `MAX` bytes (UTF-8);
/// `MAX == 0` takes the output limit of the call being polled.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bounded<const MAX: usize> {
    Kept(String),
    /// Longer than the bound: its first `MAX` bytes (none for the output),
    /// cut at a character boundary.
    Cut(String),
}

/// The longest valid UTF-8 prefix of `bytes`, which was cut from valid text
/// at an arbitrary byte; an error when the text itself is not UTF-8.
fn utf8_prefix(bytes: &[u8]) -> wasmtime::Result<&str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) if e.error_len().is_none() => {
            Ok(std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default())
        }
        Err(e) => Err(e.into()),
    }
}

/// The output text: kept, or refused for its length (never copied).
pub(crate) type OutputText = Bounded<0>;

impl<const MAX: usize> Bounded<MAX> {
    fn read(cx: &mut LiftContext<'_>, ptr: usize, len: usize) -> wasmtime::Result<Self> {
        let encoding = cx.options().string_encoding;
        let (byte_len, text_len) = match encoding {
            StringEncoding::Utf8 => (Some(len), len),
            StringEncoding::Utf16 => (len.checked_mul(2), len),
            StringEncoding::CompactUtf16 => {
                const UTF16_TAG: usize = 1 << 31;
                if len & UTF16_TAG == 0 {
                    (Some(len), len)
                } else {
                    ((len ^ UTF16_TAG).checked_mul(2), len ^ UTF16_TAG)
                }
            }
        };
        let memory = cx.memory();
        let Some(bytes) = byte_len
            .and_then(|n| ptr.checked_add(n))
            .and_then(|end| memory.get(ptr..end))
        else {
            wasmtime::bail!("string pointer/length out of bounds of memory");
        };
        let bound = match MAX {
            0 => OUTPUT_LIMIT.with(Cell::get),
            max => Some(max),
        };
        let is_output = MAX == 0;
        if let StringEncoding::Utf8 = encoding {
            return Ok(match bound {
                // The output past its limit is never copied.
                Some(b) if is_output && bytes.len() > b => Bounded::Cut(String::new()),
                Some(b) if bytes.len() > b => Bounded::Cut(utf8_prefix(&bytes[..b])?.to_owned()),
                _ => Bounded::Kept(std::str::from_utf8(bytes)?.to_owned()),
            });
        }
        // UTF-16 or Latin-1: each unit is at least one byte as UTF-8.
        if is_output && bound.is_some_and(|b| text_len > b) {
            return Ok(Bounded::Cut(String::new()));
        }
        let units = bound.map_or(text_len, |b| text_len.min(b));
        let text: String = if byte_len == Some(len) {
            // Latin-1 (compact UTF-16 without its tag).
            bytes[..units].iter().map(|&b| char::from(b)).collect()
        } else {
            char::decode_utf16(
                bytes[..units * 2]
                    .chunks_exact(2)
                    .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
            )
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
        };
        Ok(match bound {
            Some(b) if text.len() > b && is_output => Bounded::Cut(String::new()),
            Some(b) if text.len() > b || units < text_len => {
                let mut end = b.min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                Bounded::Cut(text[..end].to_owned())
            }
            _ => Bounded::Kept(text),
        })
    }

    /// The text kept, cut or whole.
    pub fn into_text(self) -> String {
        match self {
            Bounded::Kept(text) | Bounded::Cut(text) => text,
        }
    }
}

// SAFETY: lowered and laid out exactly as `string` (a pointer and a
// length), which `typecheck` demands.
unsafe impl<const MAX: usize> ComponentType for Bounded<MAX> {
    type Lower = [ValRaw; 2];

    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <String as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: reads only within the guest's memory, bounds-checked above.
unsafe impl<const MAX: usize> Lift for Bounded<MAX> {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        _ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        let ptr = usize::try_from(src[0].get_u32())?;
        let len = usize::try_from(src[1].get_u32())?;
        Self::read(cx, ptr, len)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        _ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        let word = |at: usize| -> wasmtime::Result<usize> {
            let raw: [u8; 4] = bytes
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| wasmtime::format_err!("a string's pointer pair is cut short"))?;
            Ok(usize::try_from(u32::from_le_bytes(raw))?)
        };
        let (ptr, len) = (word(0)?, word(4)?);
        Self::read(cx, ptr, len)
    }
}

/// A task-error, its name and cause cut to what AWS keeps (256 and 32,768
/// characters, at most four bytes each) as they are copied.
#[derive(wasmtime::component::ComponentType, wasmtime::component::Lift)]
#[component(record)]
pub(crate) struct BoundedTaskError {
    #[component(name = "error")]
    pub error: Bounded<{ 4 * 256 + 4 }>,
    #[component(name = "cause")]
    pub cause: Bounded<{ 4 * 32_768 + 4 }>,
}

/// What a guest's `run` returned, bounded as it was copied.
pub(crate) type BoundedReturn = Result<OutputText, BoundedTaskError>;
