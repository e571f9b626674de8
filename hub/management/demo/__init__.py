"""`make demo` (`manage.py hub_demo`): the hub on the embedded default in its own folder,
five simulated partners (the shipped `partners` package) on 127.0.0.1, and a scripted day
played through the real OCPI interfaces. `hubproc` runs the hub, `world` is the network's
data, `console` prints, `day` plays the steps."""
