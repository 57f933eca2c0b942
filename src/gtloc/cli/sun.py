"""``gtloc sun --lat LAT --lon LON --time TIME``: the sun's elevation, azimuth and light at a place and time."""

from __future__ import annotations

import typer

from gtloc.cli.app import app, flags


@app.command()
def sun(
    lat: float = typer.Option(..., "--lat", help="Latitude in degrees (north positive)."),
    lon: float = typer.Option(..., "--lon", help="Longitude in degrees (east positive)."),
    time: str = typer.Option(
        ...,
        "--time",
        help="ISO 8601 with an offset or Z ('2013-01-20 18:54+01:00', '2013-01-20T17:54Z'), or a time without one, "
        "read as local clock time at the place ('2013-01-20 18:54').",
    ),
) -> None:
    """Print the sun's elevation, azimuth and light (day, civil/nautical/astronomical twilight, night)."""
    from gtloc.sun import sun_position
    from gtloc.timecode import parse_instant, timezone_at, utc_to_local

    with flags():
        when = parse_instant(time, lat, lon)
        position = sun_position(lat, lon, when)
        zone = timezone_at(lat, lon)
    local = utc_to_local(when, lat, lon)
    typer.echo(
        f"sun at {lat:g}, {lon:g} on {when:%Y-%m-%d %H:%M:%S} UTC ({local:%Y-%m-%d %H:%M:%S} local time, {zone})\n"
        f"  elevation  {position.elevation_deg:6.1f} deg (above the horizon, negative below; with refraction)\n"
        f"  azimuth    {position.azimuth_deg:6.1f} deg ({position.compass}, clockwise from north)\n"
        f"  light      {position.light}"
    )
