"""Plans and routes: optimization jobs, their results, publishing to drivers."""
