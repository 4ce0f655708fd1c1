//! The keepalived front end: `keepalived.conf` as keepalived reads it (to be written).
