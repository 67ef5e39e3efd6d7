/// pgha's version, printed by `pgha --version`; raised with each release.
enum PghaVersion {
    static let string = "0.8.0"
}
