"""The synthetic demo data set (``pta demo load``): households, their plans and timelines,
played through the service's own create and transition functions. Nothing here is a rule of
the service; the rules live in app/services."""
