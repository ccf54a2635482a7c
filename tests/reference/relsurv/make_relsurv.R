# Reference fixtures for relative and net survival: relsurv::rs.surv on relsurv::colrec with
# relsurv::slopop. Run from this folder: Rscript make_relsurv.R
#
# Exports:
#   colrec.csv   the cohort: sex (1 male, 2 female), age (days at diagnosis), age_years
#                (= age / 365.241), diag (ISO date of diagnosis), time (days), stat (1 dead)
#   slopop.csv   the slopop rate table in long format: year, sex, age, rate, where `rate` is the
#                ANNUAL hazard = slopop's daily hazard x 365.241 (relsurv's days per year; the
#                age cut points of slopop are k x 365.241 days). Each year's rates hold from
#                1 January of that year until the next listed year.
#   rs_<method>.csv   the rs.surv curve (time, n_risk, n_event, surv, std_err_log, lower, upper)
suppressPackageStartupMessages(library(relsurv))
options(digits = 17)
write <- function(df, file) write.csv(df, file, row.names = FALSE)
data(colrec, package = "relsurv")
data(slopop, package = "relsurv")

write(data.frame(sex = colrec$sex, age = colrec$age, age_years = colrec$age / 365.241,
                 diag = format(as.Date(as.numeric(colrec$diag), origin = "1960-01-01")),
                 time = colrec$time, stat = colrec$stat, site = as.character(colrec$site)),
      "colrec.csv")

dn <- dimnames(slopop)
long <- expand.grid(age = as.integer(dn$age), year = as.integer(dn$year), sex = c(1L, 2L))
long$rate <- as.vector(slopop) * 365.241
write(long[, c("year", "sex", "age", "rate")], "slopop.csv")

for (m in c("pohar-perme", "ederer2", "ederer1")) {
  fit <- rs.surv(Surv(time, stat) ~ 1, rmap = list(age = age, sex = sex, year = diag),
                 data = colrec, ratetable = slopop, method = m, conf.type = "log")
  write(data.frame(time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event,
                   surv = fit$surv, std_err_log = fit$std.err, lower = fit$lower,
                   upper = fit$upper),
        sprintf("rs_%s.csv", gsub("-", "_", m)))
}
writeLines(c(R.version.string, paste("relsurv", packageVersion("relsurv")),
             paste("survival", packageVersion("survival"))), "VERSIONS.txt")
