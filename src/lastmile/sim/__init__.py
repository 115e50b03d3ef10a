"""Simulation: a seeded Laredo day and the hidden world it is played against.

* ``world``: ``make_world(seed)`` -- depots, shippers, drivers and vehicles, ~300
  orders, the day's events, and each order's hidden truth; ``to_problem`` for the engine.
* ``truth``: ``Truth(world)`` -- true travel (time of day, bridges, school zones,
  an incident, noise), service times, customers at home or not.
* ``execute``: ``run_day(world, policy)`` and ``compare(world)`` -- the day as a
  discrete-event simulation under a dispatch policy, and its figures.
* ``policies``: lastmile (plan, notify, insert live, repair) and the naive dispatcher.

Nothing here touches the database or the wall clock (except to time the planning).
"""
