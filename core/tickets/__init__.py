"""Tickets (为民办事): residents' requests through the closed loop."""
