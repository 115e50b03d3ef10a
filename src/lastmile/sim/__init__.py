"""Simulation: a seeded Laredo day (``world``), the hidden true world it is played
against (``truth``), and the day executed under lastmile or a naive dispatcher
(``execute``). Nothing here touches the database or the wall clock."""
