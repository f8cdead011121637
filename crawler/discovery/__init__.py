"""Finding what a site offers to poll (`sources add`) and trying a source once without storing
(`sources test`): discovery fetches follow the crawl's rules, in a small synchronous fetcher."""
