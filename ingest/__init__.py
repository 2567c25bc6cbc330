"""The market-data ingestor: alpaca-py streams (marketsim or Alpaca) into md.quotes; see ingest.service."""
