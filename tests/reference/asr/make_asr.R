# Reference fixtures for direct age standardisation: epitools::ageadjust.direct.
# Run from this folder: Rscript make_asr.R
suppressPackageStartupMessages(library(epitools))
options(digits = 17)
write <- function(df, file) write.csv(df, file, row.names = FALSE)

groups <- c(paste0(seq(0, 80, 5), "-", seq(4, 84, 5)), "85+")
std <- list(
  esp2013 = c(5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500, 6000, 5500,
              5000, 4000, 2500, 2500),
  esp1976 = c(8000, rep(7000, 10), 6000, 5000, 4000, 3000, 2000, 1000, 1000),
  world = c(12000, 10000, 9000, 9000, 8000, 8000, 6000, 6000, 6000, 6000, 5000, 4000, 4000, 3000,
            2000, 1000, 500, 500))

# Three populations: seeded Poisson counts on a rising age curve, one with zero-count groups.
set.seed(20240611)
pop <- round(c(3.6, 3.9, 4.0, 3.9, 3.6, 3.7, 4.0, 4.2, 4.2, 4.4, 4.5, 4.4, 4.2, 4.0, 3.7, 2.6,
               2.0, 2.2) * 1e5)
base <- 2e-6 * exp(0.085 * seq(2, 87, 5))
inputs <- list(pop_a = rpois(18, pop * base), pop_b = rpois(18, pop * base * 0.3),
               pop_c = c(rep(0, 8), rpois(10, pop[9:18] * base[9:18] * 0.05)))
rows <- list(); out <- list()
for (name in names(inputs)) {
  rows[[name]] <- data.frame(population = name, age_group = groups, cases = inputs[[name]],
                             person_years = pop)
  for (s in names(std)) {
    for (cl in c(0.90, 0.95, 0.99)) {
      r <- ageadjust.direct(count = inputs[[name]], pop = pop, stdpop = std[[s]], conf.level = cl)
      out[[length(out) + 1]] <- data.frame(population = name, standard = s, conf_level = cl,
        crude_rate = r[["crude.rate"]], adj_rate = r[["adj.rate"]], lci = r[["lci"]],
        uci = r[["uci"]])
    }
  }
}
write(do.call(rbind, rows), "asr_input.csv")
write(do.call(rbind, out), "asr_epitools.csv")
writeLines(c(R.version.string, paste("epitools", packageVersion("epitools"))), "VERSIONS.txt")
