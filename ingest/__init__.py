"""The market-data ingestor: alpaca-py streams in, COPY batches of NBBO quotes into md.quotes out."""
