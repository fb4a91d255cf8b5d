//! Who may talk to the daemon, and what a bad request gets.
