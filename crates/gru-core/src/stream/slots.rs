//! The slot table of a stream set: which slot each open stream holds, which slots are
//! free, and which streams a step has already named. Every operation works in the buffers
//! made at construction (no allocation after [`Slots::new`]).
//!
//! A [`StreamId`] is a slot and the slot's generation when the stream was opened; closing
//! a stream advances its slot's generation, so an id kept after `close` is refused even
//! when a new stream holds the same slot.

use std::fmt::{self, Display};

use crate::error::{GruError, Result};

/// The handle of one stream of a [`super::StreamSet`], returned by `open`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    slot: u32,
    generation: u32,
}

impl StreamId {
    /// The slot this stream holds (`0..capacity`): a row index for callers that keep
    /// per-stream data beside the set.
    pub fn slot(self) -> usize {
        self.slot as usize
    }
}

impl Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.slot, self.generation)
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    generation: u32,
    open: bool,
    /// The step that last named this slot, and where in its ids.
    stamp: u64,
    position: usize,
}

/// The slots of a set of `capacity` streams.
#[derive(Debug)]
pub(crate) struct Slots {
    slots: Vec<Slot>,
    /// Free slots, the next one to open last (slot 0 opens first).
    free: Vec<u32>,
    /// The current step (see [`Slots::begin_step`]).
    stamp: u64,
}

impl Slots {
    pub(crate) fn new(capacity: usize) -> Result<Self> {
        let cap = u32::try_from(capacity)
            .map_err(|_| GruError::option("capacity", capacity, "must fit in 32 bits (at most 4294967295 streams)"))?;
        Ok(Self {
            slots: vec![Slot { generation: 0, open: false, stamp: 0, position: 0 }; capacity],
            free: (0..cap).rev().collect(),
            stamp: 0,
        })
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Streams open now.
    pub(crate) fn open_count(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Takes a free slot.
    pub(crate) fn open(&mut self) -> Result<StreamId> {
        let slot = self.free.pop().ok_or(GruError::StreamsFull { capacity: self.slots.len() })?;
        let s = &mut self.slots[slot as usize];
        s.open = true;
        Ok(StreamId { slot, generation: s.generation })
    }

    /// Frees the slot of `id`.
    pub(crate) fn close(&mut self, id: StreamId) -> Result<()> {
        let slot = self.resolve(id)?;
        let s = &mut self.slots[slot];
        s.open = false;
        s.generation = s.generation.wrapping_add(1);
        self.free.push(id.slot);
        Ok(())
    }

    /// The slot of an open stream.
    pub(crate) fn resolve(&self, id: StreamId) -> Result<usize> {
        let unknown = |reason: &str| GruError::UnknownStream { id: id.to_string(), reason: reason.into() };
        let s = self
            .slots
            .get(id.slot as usize)
            .ok_or_else(|| unknown(&format!("slot {} is outside this set's {} slots", id.slot, self.slots.len())))?;
        if s.generation != id.generation || !s.open {
            return Err(unknown("closed"));
        }
        Ok(id.slot as usize)
    }

    /// Starts a step: no stream has been named in it yet.
    pub(crate) fn begin_step(&mut self) {
        self.stamp += 1;
    }

    /// The slot of `id`, named at `position` of this step's ids; a stream named twice in
    /// one step is refused.
    pub(crate) fn name(&mut self, id: StreamId, position: usize) -> Result<usize> {
        let slot = self.resolve(id)?;
        let s = &mut self.slots[slot];
        if s.stamp == self.stamp {
            return Err(GruError::DuplicateStream { id: id.to_string(), first: s.position, second: position });
        }
        s.stamp = self.stamp;
        s.position = position;
        Ok(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_ids_stay_refused_when_their_slot_is_reused() {
        let mut s = Slots::new(2).unwrap();
        let a = s.open().unwrap();
        let b = s.open().unwrap();
        assert_eq!((a.slot(), b.slot()), (0, 1));
        assert!(matches!(s.open(), Err(GruError::StreamsFull { capacity: 2 })));
        s.close(a).unwrap();
        let c = s.open().unwrap();
        assert_eq!(c.slot(), 0);
        assert_ne!(a, c);
        assert!(matches!(s.resolve(a), Err(GruError::UnknownStream { .. })));
        assert!(matches!(s.close(a), Err(GruError::UnknownStream { .. })));
        assert_eq!(s.resolve(c).unwrap(), 0);
        assert_eq!(s.open_count(), 2);
    }

    #[test]
    fn a_stream_named_twice_in_one_step_is_refused_but_not_across_steps() {
        let mut s = Slots::new(3).unwrap();
        let a = s.open().unwrap();
        let b = s.open().unwrap();
        s.begin_step();
        s.name(a, 0).unwrap();
        s.name(b, 1).unwrap();
        match s.name(a, 2) {
            Err(GruError::DuplicateStream { first: 0, second: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
        s.begin_step();
        assert_eq!(s.name(a, 0).unwrap(), 0);
    }
}
