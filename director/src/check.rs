//! Health checks of real servers (to be written).
