"""Learning from history: travel times from recorded pings and service times from
actual dwell times, trained by ``lastmile learn``, stored versioned in
``learned_models`` and used by the engine and live ETAs when present."""
