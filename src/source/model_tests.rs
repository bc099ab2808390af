//! Model-based tests of the tailer.
