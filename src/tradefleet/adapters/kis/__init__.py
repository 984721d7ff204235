"""Korea Investment (KIS) Open API REST adapter: ``broker.KisBroker`` implements
``ports.broker.BrokerPort`` for the real and paper (모의투자) environments."""
